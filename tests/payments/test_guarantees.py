"""The payments guarantees under races the first tests leave out, counted on both sides of the wire
(our payment rows and the sandbox provider's own tables).

Where each promised behaviour is shown:
    one key called 10 times: 1 charge, 10 equal results       test_services (the_same_authorize_key...)
    50 concurrent calls with one key: 1 charge                 test_concurrency; flaky and erroring here
    pm_sandbox_flaky: third attempt, one charge                test_services; 50 racing callers here
    pm_sandbox_error: transient, nothing charged               test_services; 10 racing callers here
    in doubt through lookup, a void leaves nothing standing    test_services; a void racing the retry here
    concurrent refunds never pass the captured amount          test_concurrency; mixed amounts and the
                                                                provider's own total here
    a partial refund then the rest ends `refunded`             test_services; after a partial capture here
    and by the beat task                                       test_settle_in_doubt
"""

import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from contexts.payments import api
from contexts.payments.models import Payment, ProviderCall, Refund, SandboxCharge, SandboxOperation
from integration.bus.models import OutboxMessage
from tests.payments.conftest import ORDER_ID, authorize, charges, provider_calls
from tests.payments.test_concurrency import race


@pytest.fixture
def _pg():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serialises writers instead")


def racing(test):
    """Real threads, each on its own connection, on PostgreSQL."""
    for mark in (pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("_pg")):
        test = mark(test)
    return test


def refund(payment_id, key: str, amount: str):
    return api.payment_refund(key=key, payment_id=payment_id, amount=Decimal(amount), reason="test")


@racing
def test_fifty_concurrent_flaky_authorizations_with_one_key_charge_once():
    outcomes, results = race([lambda: authorize(key="race:authorize", method="pm_sandbox_flaky")] * 50)
    assert outcomes == Counter(ok=50)
    assert len(set(results)) == 1 and results[0].status == "authorized"
    assert charges() == 1
    # The first caller's three attempts; every other caller found its result under the row lock.
    assert provider_calls("authorize") == 3
    assert SandboxOperation.objects.get(key="race:authorize:authorize").attempts == 3


@racing
def test_concurrent_calls_to_an_erroring_provider_are_all_transient_and_charge_nothing():
    outcomes, _results = race([lambda: authorize(key="race:authorize", method="pm_sandbox_error")] * 10)
    assert outcomes == Counter(PaymentProviderUnavailable=10)
    assert charges() == 0
    assert Payment.objects.get().status == "in_doubt"
    # Each caller after the first asked the provider (lookup) before trying again.
    assert provider_calls("lookup") == 9
    assert provider_calls("authorize") == 30


@racing
def test_a_void_racing_the_retry_after_a_lost_answer_leaves_no_authorization_standing():
    orders = [uuid.UUID(int=ORDER_ID.int + n) for n in range(6)]

    def retry(order_id):
        return authorize(
            key=f"{order_id}:authorize", method="pm_sandbox_timeout_after_charge", order_id=order_id
        )

    for order_id in orders:
        with pytest.raises(api.PaymentProviderUnavailable):
            retry(order_id)
    assert SandboxCharge.objects.filter(status="authorized").count() == 6  # charged, never heard of

    calls = []
    for order_id in orders:
        calls.append(lambda o=order_id: retry(o))
        calls.append(lambda o=order_id: api.payment_void(key=f"{o}:compensate", order_id=o))
    outcomes, _results = race(calls)
    assert outcomes == Counter(ok=12)  # the retry answers authorized or voided, whichever ran first
    assert set(Payment.objects.values_list("status", flat=True)) == {"voided"}
    assert set(SandboxCharge.objects.values_list("status", flat=True)) == {"voided"}
    assert charges() == 6
    assert OutboxMessage.objects.filter(type="payments.PaymentVoided.v1").count() == 6


@racing
def test_concurrent_refunds_of_mixed_amounts_stay_within_the_captured_amount_on_both_sides():
    payment = authorize(amount="100.00")
    api.payment_capture(key="race:capture", payment_id=payment.id)
    amounts = ["30.00", "10.00", "45.00", "5.00", "25.00", "20.00"] * 3
    outcomes, _results = race(
        [lambda i=i, a=a: refund(payment.id, f"race:refund:{i}", a) for i, a in enumerate(amounts)]
    )
    # Once refunded in full the payment refuses any refund as a state conflict, before that by amount.
    assert set(outcomes) <= {"ok", "RefundExceedsCaptured", "PaymentStateConflict"} and outcomes["ok"] >= 1
    final = Payment.objects.get()
    ours = sum((r.amount for r in Refund.objects.all()), Decimal("0"))
    assert final.refunded_amount == ours <= final.captured_amount == Decimal("100.00")
    assert SandboxCharge.objects.get().refunded_amount == ours  # the provider refunded exactly that
    # A refund was refused only because it no longer fitted: what remains is below every refused amount.
    refused = Counter(amounts) - Counter(str(r.amount) for r in Refund.objects.all())
    remaining = final.captured_amount - final.refunded_amount
    assert all(Decimal(a) > remaining for a in refused)
    assert final.status == ("refunded" if remaining == 0 else "partially_refunded")
    if outcomes["PaymentStateConflict"]:
        assert final.status == "refunded"


@racing
def test_one_refund_key_from_many_callers_refunds_once():
    payment = authorize(amount="100.00")
    api.payment_capture(key="race:capture", payment_id=payment.id)
    outcomes, results = race([lambda: refund(payment.id, "race:refund", "40.00")] * 20)
    assert outcomes == Counter(ok=20)
    assert len({r.id for r in results}) == 1
    assert Refund.objects.count() == 1
    assert ProviderCall.objects.filter(kind="refund").count() == 1
    assert SandboxCharge.objects.get().refunded_amount == Decimal("40.00")
    assert Payment.objects.get().refunded_amount == Decimal("40.00")


@pytest.mark.django_db
def test_after_a_partial_capture_a_partial_refund_then_the_rest_ends_refunded():
    payment = authorize(amount="100.00")
    api.payment_capture(key="c", payment_id=payment.id, amount=Decimal("60.00"))
    refund(payment.id, "r1", "20.00")
    assert api.payment_get(payment_id=payment.id).status == "partially_refunded"
    with pytest.raises(api.RefundExceedsCaptured) as exc:
        refund(payment.id, "r2", "40.01")  # within the authorized amount, beyond the captured one
    assert exc.value.remaining == Decimal("40.00")
    refund(payment.id, "r3", "40.00")
    final = api.payment_get(payment_id=payment.id)
    assert (final.status, final.refunded_amount) == ("refunded", Decimal("60.00"))
    last = OutboxMessage.objects.filter(type="payments.PaymentRefunded.v1").order_by("created_at").last()
    assert last.payload["fully_refunded"] is True and last.payload["refunded_total"] == "60.00"
    charge = SandboxCharge.objects.get()
    assert (charge.captured_amount, charge.refunded_amount) == (Decimal("60.00"), Decimal("60.00"))
