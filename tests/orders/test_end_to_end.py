"""The order saga end to end: HTTP checkout, PostgreSQL, RabbitMQ and a real Celery worker running
every step against the real catalog, payments (sandbox provider) and shipping (sandbox carrier)."""

import os
import signal
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, router
from django.db.models import Q
from rest_framework.test import APIClient

from contexts.catalog import api as catalog
from contexts.catalog.models import Reservation
from contexts.notifications.models import Notification
from contexts.orders.models import Order, Saga, SagaStep
from contexts.orders.tasks import run_saga_step
from contexts.payments import api as payments
from contexts.payments.models import ProviderCall, SandboxCharge
from contexts.shipping import api as shipping
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import make_product
from tests.notifications.conftest import seed_templates
from tests.orders.conftest import ADDRESS
from tests.payments.conftest import client_for
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TERMINAL = ("ready_to_ship", "cancelled", "needs_attention")


def order_of(order_id) -> Order:
    return Order.objects.get(id=order_id)


def settled(order_id, timeout: float = 60) -> Order:
    wait_until(
        lambda: order_of(order_id).status in TERMINAL, timeout=timeout, message=f"order {order_id} settled"
    )
    # A terminal order's saga has nothing left in flight.
    saga = Saga.objects.get(order_id=order_id)
    assert saga.status in ("completed", "compensated", "failed"), saga.status
    return order_of(order_id)


def checkout(client, *, key=None, method="pm_sandbox_ok", address=None, lines=None, request_id=None):
    body = {"shipping_address": address or ADDRESS, "payment_method": method}
    if lines is not None:
        body["lines"] = lines
    extra = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    return client.post(
        "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()), **extra
    )


def assert_consistent_cancellation(order: Order, sku: str, on_hand: int) -> None:
    """Cancelled: no reservation left active, nothing authorized or captured, stock where it was."""
    saga = Saga.objects.get(order=order)
    assert not Reservation.objects.filter(key__startswith=f"{saga.id}:", status="active").exists()
    for payment in payments.payments_for_order(order_id=order.id):
        assert payment.status in ("voided", "failed", "refunded"), payment.status
        assert payment.captured_amount == payment.refunded_amount
    assert (
        SandboxCharge.objects.filter(
            key__startswith=f"{saga.id}:", status__in=["authorized", "captured"]
        ).count()
        == 0
    )
    for shipment in shipping.shipments_for_order(order_id=order.id):
        assert shipment.status == "cancelled"
    level = catalog.stock_level(sku=sku)
    assert (level.on_hand, level.reserved) == (on_hand, 0)


def outbox_messages(condition: Q) -> list[OutboxMessage]:
    """The outbox rows matching `condition` in every database this process keeps contexts' tables in:
    one in the monolith; the monolith's and the extracted service's in the split, where each context
    writes its events to its own database's outbox."""
    databases = {router.db_for_read(model) for model in apps.get_models()}
    return [
        message
        for alias in sorted(databases)
        for message in OutboxMessage.objects.using(alias).filter(condition)
    ]


def test_the_happy_path_through_http(celery_worker_process):
    seed_templates()  # notifications' default templates (an earlier transactional test's flush removes them)
    make_product("E2E-MUG", price="12.50", stock=10)
    client = APIClient()
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    assert (
        client.post(
            "/api/v1/auth/register/", {"email": email, "password": "a-Good-passw0rd"}, format="json"
        ).status_code
        == 201
    )
    tokens = client.post(
        "/api/v1/auth/token/", {"email": email, "password": "a-Good-passw0rd"}, format="json"
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert (
        client.post("/api/v1/cart/items/", {"sku": "E2E-MUG", "quantity": 2}, format="json").status_code
        == 201
    )

    response = checkout(client, request_id="checkout-e2e-0001")
    assert response.status_code == 202, response.content
    order = settled(response.json()["id"])

    assert order.status == "ready_to_ship"
    assert client.get(f"/api/v1/orders/{order.id}/").json()["status"] == "ready_to_ship"
    # Stock committed, payment captured, a shipment exists.
    level = catalog.stock_level(sku="E2E-MUG")
    assert (level.on_hand, level.reserved) == (8, 0)
    saga = Saga.objects.get(order=order)
    assert Reservation.objects.get(key=f"{saga.id}:reserve").status == "committed"
    [payment] = payments.payments_for_order(order_id=order.id)
    assert (payment.status, payment.captured_amount) == ("captured", Decimal("25.00"))
    [shipment] = shipping.shipments_for_order(order_id=order.id)
    assert shipment.status == "label_purchased"
    # Every event in the chain carries the checkout's correlation id.
    in_chain = Q(payload__order_id=str(order.id)) | Q(payload__key=f"{saga.id}:reserve")
    chain = [(message.type, message.correlation_id) for message in outbox_messages(in_chain)]
    types = {type_ for type_, _ in chain}
    assert {
        "orders.OrderPlaced.v1",
        "catalog.StockReserved.v1",
        "payments.PaymentAuthorized.v1",
        "shipping.ShipmentCreated.v1",
        "payments.PaymentCaptured.v1",
        "catalog.StockCommitted.v1",
        "orders.OrderConfirmed.v1",
    } <= types, types
    assert {correlation_id for _, correlation_id in chain} == {"checkout-e2e-0001"}
    assert saga.correlation_id == "checkout-e2e-0001"
    # The confirmation email went out through the bus (notifications subscribes to OrderConfirmed).
    confirmation = Notification.objects.filter(
        event_type="orders.OrderConfirmed.v1", user_id=order.user_id, channel="email"
    )
    wait_until(
        lambda: confirmation.filter(status="sent").exists(), timeout=30, message="the confirmation email"
    )
    assert confirmation.get().recipient == email


@pytest.mark.parametrize(
    ("method", "postal_code", "reason"),
    [
        ("pm_sandbox_declined", "N1 9GU", "payment_declined"),
        ("pm_sandbox_ok", "00000", "address_rejected"),
        ("pm_sandbox_error", "N1 9GU", "provider_unavailable"),
        ("pm_sandbox_timeout_after_charge", "N1 9GU", "provider_unavailable"),
    ],
    ids=["declined", "address-rejected", "provider-down", "authorize-answer-lost"],
)
def test_each_failure_compensates_to_a_consistent_state(celery_worker_process, method, postal_code, reason):
    make_product("E2E-TEA", price="4.00", stock=5)
    client = client_for(uuid.uuid4())
    response = checkout(
        client,
        method=method,
        address={**ADDRESS, "postal_code": postal_code},
        lines=[{"sku": "E2E-TEA", "quantity": 2}],
    )
    assert response.status_code == 202, response.content
    order = settled(response.json()["id"])
    assert (order.status, order.cancellation_reason) == ("cancelled", reason)
    assert_consistent_cancellation(order, "E2E-TEA", on_hand=5)
    if method == "pm_sandbox_timeout_after_charge":
        # The provider did charge: the compensation looked it up by key and voided it.
        [charge] = SandboxCharge.objects.filter(key__startswith=f"{Saga.objects.get(order=order).id}:")
        assert charge.status == "voided"


def test_stock_running_out_between_cart_and_reserve(celery_worker_process):
    make_product("E2E-LAST", stock=2)
    client = client_for(uuid.uuid4())
    client.post("/api/v1/cart/items/", {"sku": "E2E-LAST", "quantity": 2}, format="json")
    rival = settled(
        checkout(client_for(uuid.uuid4()), lines=[{"sku": "E2E-LAST", "quantity": 1}]).json()["id"]
    )
    assert rival.status == "ready_to_ship"

    order = settled(checkout(client).json()["id"])
    assert (order.status, order.cancellation_reason) == ("cancelled", "out_of_stock")
    assert_consistent_cancellation(order, "E2E-LAST", on_hand=1)
    assert not payments.payments_for_order(order_id=order.id)  # never charged


def test_the_customer_cancels_a_ready_to_ship_order_and_is_refunded(celery_worker_process):
    make_product("E2E-CUP", price="3.00", stock=4)
    client = client_for(uuid.uuid4())
    order = settled(checkout(client, lines=[{"sku": "E2E-CUP", "quantity": 1}]).json()["id"])
    assert order.status == "ready_to_ship"
    assert client.post(f"/api/v1/orders/{order.id}/cancel/").status_code == 202
    wait_until(lambda: order_of(order.id).status == "cancelled", timeout=60, message="compensated")
    order = settled(order.id)
    assert (order.status, order.cancellation_reason) == ("cancelled", "customer_request")
    [payment] = payments.payments_for_order(order_id=order.id)
    assert (payment.status, payment.refunded_amount) == ("refunded", Decimal("3.00"))
    [shipment] = shipping.shipments_for_order(order_id=order.id)
    assert shipment.status == "cancelled"
    # The unit sold is back on hand, and nothing is held.
    level = catalog.stock_level(sku="E2E-CUP")
    assert (level.on_hand, level.reserved) == (4, 0)


def test_every_step_delivered_twice_gives_the_same_result_as_once(celery_worker_process):
    make_product("E2E-DUP", price="5.00", stock=10)
    response = checkout(client_for(uuid.uuid4()), lines=[{"sku": "E2E-DUP", "quantity": 3}])
    order_id = response.json()["id"]
    saga = Saga.objects.get(order_id=order_id)
    seen = set()
    # Each step's message is sent a second time as soon as the saga reaches that step.
    while order_of(order_id).status not in TERMINAL:
        saga.refresh_from_db()
        if saga.current_step not in seen:
            seen.add(saga.current_step)
            run_saga_step.apply_async(args=(str(saga.id), saga.current_step, 1))
    order = settled(order_id)
    assert order.status == "ready_to_ship"
    # And every one of them once more, after the end.
    for step in ("reserve", "authorize", "ship", "confirm"):
        run_saga_step.apply_async(args=(str(saga.id), step, 1))
    # They must change nothing, so there is nothing to wait for: give the worker time to run them.
    time.sleep(2)
    assert len(seen) >= 2
    assert list(SagaStep.objects.filter(saga=saga).values_list("attempts", flat=True)) == [1, 1, 1, 1]
    assert SandboxCharge.objects.filter(key__startswith=f"{saga.id}:").count() == 1
    assert (
        ProviderCall.objects.filter(key__startswith=f"{saga.id}:", kind="capture", outcome="approved").count()
        == 1
    )
    assert len(shipping.shipments_for_order(order_id=order.id)) == 1
    level = catalog.stock_level(sku="E2E-DUP")
    assert (level.on_hand, level.reserved) == (7, 0)
    assert (
        OutboxMessage.objects.filter(type="orders.OrderConfirmed.v1", payload__order_id=str(order.id)).count()
        == 1
    )


def _concurrently(n: int, fn) -> list:
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_key_posted_five_times_at_once_creates_one_order(celery_worker_process):
    make_product("E2E-KEY", stock=10)
    user_id = uuid.uuid4()
    lines = [{"sku": "E2E-KEY", "quantity": 1}]
    statuses = _concurrently(
        5, lambda i: checkout(client_for(user_id), key="same-key", lines=lines).status_code
    )
    assert Order.objects.filter(user_id=user_id).count() == 1
    assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}, statuses
    other = checkout(client_for(user_id), key="same-key", lines=[{"sku": "E2E-KEY", "quantity": 2}])
    assert other.status_code == 422
    order = settled(Order.objects.get(user_id=user_id).id)
    assert order.status == "ready_to_ship"
    assert catalog.stock_level(sku="E2E-KEY").on_hand == 9


def test_no_oversell_through_checkout(celery_worker_process):
    make_product("E2E-HOT", price="7.00", stock=5)
    users = [uuid.uuid4() for _ in range(30)]
    responses = _concurrently(
        30, lambda i: checkout(client_for(users[i]), lines=[{"sku": "E2E-HOT", "quantity": 1}]).json()["id"]
    )
    orders = [settled(order_id, timeout=180) for order_id in responses]
    outcomes = sorted((o.status, o.cancellation_reason) for o in orders)
    assert outcomes.count(("ready_to_ship", "")) == 5
    assert outcomes.count(("cancelled", "out_of_stock")) == 25
    level = catalog.stock_level(sku="E2E-HOT")
    assert (level.on_hand, level.reserved) == (0, 0)


@pytest.mark.parametrize("step", ["reserve", "authorize", "ship", "confirm"])
def test_a_worker_killed_in_the_middle_of_each_step_leaves_every_saga_able_to_finish(
    celery_worker_process, step
):
    make_product("E2E-KILL", price="2.00", stock=10)
    cache.set(f"orders:pause:{step}", True, 120)
    try:
        order_id = checkout(client_for(uuid.uuid4()), lines=[{"sku": "E2E-KILL", "quantity": 2}]).json()["id"]
        saga = Saga.objects.get(order_id=order_id)
        # The step's participant call is done, its result not yet recorded: kill the worker there.
        wait_until(lambda: cache.get(f"orders:paused:{saga.id}:{step}"), timeout=60, message=f"{step} paused")
        os.killpg(celery_worker_process.proc.pid, signal.SIGKILL)
        celery_worker_process.proc.wait(timeout=20)
    finally:
        cache.delete(f"orders:pause:{step}")
    celery_worker_process.start()

    order = settled(order_id, timeout=90)
    assert order.status == "ready_to_ship"
    assert SandboxCharge.objects.filter(key__startswith=f"{saga.id}:").count() == 1
    [payment] = payments.payments_for_order(order_id=order.id)
    assert (payment.status, payment.captured_amount) == ("captured", Decimal("4.00"))
    assert Reservation.objects.filter(key__startswith=f"{saga.id}:").count() == 1
    assert len(shipping.shipments_for_order(order_id=order.id)) == 1
    level = catalog.stock_level(sku="E2E-KILL")
    assert (level.on_hand, level.reserved) == (8, 0)
