"""Races on PostgreSQL with real threads, each on its own connection: one key is one charge, and
refunds never take the refunded total past the captured amount."""

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection, connections

from contexts.payments import api
from contexts.payments.models import Payment, Refund
from tests.payments.conftest import authorize, charges, provider_calls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serialises writers instead")


def race(calls: list[Callable[[], object]]) -> tuple[Counter, list]:
    """Run each call in its own thread, released together; count outcomes by exception name."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    results: list = []

    def worker(call):
        try:
            barrier.wait()
            try:
                results.append(call())
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return Counter(outcomes), results


def test_fifty_concurrent_authorizations_with_one_key_charge_once():
    outcomes, results = race([lambda: authorize(key="race:authorize")] * 50)
    assert outcomes == Counter(ok=50)
    assert len(set(results)) == 1 and results[0].status == "authorized"
    assert charges() == 1
    assert provider_calls("authorize") == 1
    assert Payment.objects.count() == 1


def test_concurrent_refunds_never_exceed_the_captured_amount():
    payment = authorize(amount="100.00")
    api.payment_capture(key="race:capture", payment_id=payment.id)
    calls = [
        (
            lambda i=i: api.payment_refund(
                key=f"race:refund:{i}", payment_id=payment.id, amount=Decimal("15.00"), reason="race"
            )
        )
        for i in range(20)
    ]
    outcomes, _ = race(calls)
    assert outcomes == Counter(ok=6, RefundExceedsCaptured=14)
    final = Payment.objects.get()
    assert final.refunded_amount == Decimal("90.00") <= final.captured_amount
    assert sum(r.amount for r in Refund.objects.all()) == Decimal("90.00")
    assert final.status == "partially_refunded"
