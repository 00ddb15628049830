"""Faults across the split.

- The payments service stopped in the middle of a checkout: the saga's authorize calls fail as transient
  errors (refused, then the breaker open), the saga retries, and either the service comes back in time
  and the order completes, or the saga gives up and compensates once the service answers again.
- 5 s of latency on the payments service (tests/latency.py): a call times out at the caller's configured
  read timeout, never waits the 5 s; a checkout's authorize calls lose their answers meanwhile, and the
  saga, retrying under the same key, completes with one charge once the latency is gone.
"""

import time
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache

from contexts.catalog import api as catalog
from contexts.orders.models import Saga, SagaStep
from contexts.payments import api as payments
from contexts.payments.models import SandboxCharge
from integration import resilience
from tests.catalog.conftest import make_product
from tests.latency import latency_key
from tests.split.test_checkout_split import customer, http_checkout, settled_over_http
from tests.split.topology import MONOLITH_PAYMENTS_READ_TIMEOUT
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

CHARGES = SandboxCharge._meta.db_table


def step(saga: Saga, name: str) -> SagaStep:
    return SagaStep.objects.get(saga=saga, name=name)


def checkout_with_the_service_stopped_after_reserve(split, sku: str) -> tuple:
    """Check out, hold the saga after its reserve step, stop the payments service's web process, let
    the saga go on to authorize, and wait for the breaker to open."""
    client = customer(split)
    cache.set("orders:pause:reserve", True, 120)
    try:
        order_id = http_checkout(client, lines=[{"sku": sku, "quantity": 1}])
        saga = Saga.objects.get(order_id=order_id)
        wait_until(lambda: cache.get(f"orders:paused:{saga.id}:reserve"), timeout=30, message="reserve held")
        split.service.stop_web()
    finally:
        cache.delete("orders:pause:reserve")
    wait_until(
        lambda: resilience.breaker("context-payments").snapshot().state == "open",
        timeout=30,
        message="the breaker on the payments service to open",
    )
    assert Saga.objects.get(id=saga.id).current_step != "reserve"
    return client, order_id, saga


def test_the_service_back_before_the_deadline_lets_the_saga_resume(split):
    make_product("SPLIT-BACK", price="6.00", stock=3)
    try:
        client, order_id, saga = checkout_with_the_service_stopped_after_reserve(split, "SPLIT-BACK")
        assert step(saga, "authorize").attempts >= 1
        assert Saga.objects.get(id=saga.id).status == "running"
    finally:
        split.service.restart_web()
    assert settled_over_http(client, order_id) == "ready_to_ship"
    [payment] = payments.payments_for_order(order_id=order_id)
    assert (payment.status, payment.captured_amount) == ("captured", Decimal("6.00"))
    assert split.rows(f"SELECT status FROM {CHARGES} WHERE key LIKE %s", (f"{saga.id}:%",)) == [("captured",)]
    level = catalog.stock_level(sku="SPLIT-BACK")
    assert (level.on_hand, level.reserved) == (2, 0)


def test_the_service_gone_past_the_retries_compensates_once_it_answers(split):
    make_product("SPLIT-GONE", price="6.00", stock=3)
    try:
        client, order_id, saga = checkout_with_the_service_stopped_after_reserve(split, "SPLIT-GONE")
        # Authorize gives up after its attempts; its compensation (void whatever the key authorized)
        # needs the service too, and keeps retrying.
        wait_until(
            lambda: step(saga, "authorize").compensation_attempts >= 1,
            timeout=60,
            message="the authorize step's compensation to be tried",
        )
        assert Saga.objects.get(id=saga.id).status == "compensating"
        assert step(saga, "authorize").attempts == 4
    finally:
        split.service.restart_web()
    assert settled_over_http(client, order_id) == "cancelled"
    assert Saga.objects.get(id=saga.id).order.cancellation_reason == "provider_unavailable"
    for payment in payments.payments_for_order(order_id=order_id):
        assert payment.status in ("voided", "failed"), payment.status
    assert not split.rows(
        f"SELECT status FROM {CHARGES} WHERE key LIKE %s AND status IN ('authorized', 'captured')",
        (f"{saga.id}:%",),
    )
    level = catalog.stock_level(sku="SPLIT-GONE")
    assert (level.on_hand, level.reserved) == (3, 0)


@pytest.fixture
def slow_payments():
    """5 s of latency on every internal call the payments service serves, for the test's duration."""
    cache.set(latency_key("payments"), 5, 300)
    try:
        yield
    finally:
        cache.delete(latency_key("payments"))


def test_five_seconds_of_latency_on_the_service_times_out_at_the_bound(split, slow_payments, settings):
    # This process plays a monolith web process; its bound on the payments service: 1 s, two attempts.
    settings.RESILIENCE = {
        **settings.RESILIENCE,
        "DEPENDENCIES": {"context-payments": {"read_timeout": 1.0, "max_attempts": 2, "backoff_max": 0.05}},
    }
    started = time.monotonic()
    with pytest.raises(resilience.DependencyUnavailable) as slow:
        payments.payment_get(payment_id=uuid.uuid4())
    elapsed = time.monotonic() - started
    assert (slow.value.reason, slow.value.attempts) == ("timeout", 2)
    assert slow.value.dependency == "context-payments"
    assert 2.0 <= elapsed < 4.0, elapsed  # two attempts of 1 s each, never the service's 5 s


def test_a_checkout_through_the_latency_loses_answers_and_still_charges_once(split, slow_payments):
    make_product("SPLIT-SLOW", price="4.00", stock=2)
    client = customer(split)
    started = time.monotonic()
    order_id = http_checkout(client, lines=[{"sku": "SPLIT-SLOW", "quantity": 1}])
    saga = Saga.objects.get(order_id=order_id)
    # The monolith's worker gives up on each authorize call at its read timeout: the step fails as
    # transient and is retried. The service meanwhile authorizes each call it was sent, late.
    wait_until(
        lambda: step(saga, "authorize").attempts >= 1 and step(saga, "authorize").last_error,
        timeout=60,
        message="an authorize attempt to time out",
    )
    assert "timeout" in step(saga, "authorize").last_error
    assert time.monotonic() - started >= MONOLITH_PAYMENTS_READ_TIMEOUT
    cache.delete(latency_key("payments"))

    assert settled_over_http(client, order_id) == "ready_to_ship"
    [payment] = payments.payments_for_order(order_id=order_id)
    assert (payment.status, payment.captured_amount) == ("captured", Decimal("4.00"))
    # One charge at the provider however many calls the lost answers caused.
    assert split.rows(f"SELECT status FROM {CHARGES} WHERE key LIKE %s", (f"{saga.id}:%",)) == [("captured",)]
