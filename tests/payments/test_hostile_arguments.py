"""The payments api refuses hostile arguments with a ValidationError or a business error before it
keeps or charges anything: never a database error, never a second charge."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contexts.payments import api
from contexts.payments.models import Payment, ProviderCall, Refund, SandboxCharge
from integration.codec import CodecError
from tests.payments.conftest import ORDER_ID, USER_ID, authorize, charges, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["in-process", "over-the-codec"])
def transport(request, settings):
    """Each case runs as an in-process call (the services' own checks) and as a call whose arguments
    cross the JSON codec, as a remote call's do (the interface's checks)."""
    settings.SERVICES = {**settings.SERVICES, "CODEC_ROUND_TRIP": request.param == "over-the-codec"}
    return request.param


LINE = api.InvoiceLineData


def _authorize(**changes):
    arguments = {
        "key": "hostile:authorize",
        "order_id": ORDER_ID,
        "user_id": USER_ID,
        "amount": Decimal("10.00"),
        "currency": "EUR",
        "payment_method": "pm_sandbox_ok",
    }
    return api.payment_authorize(**{**arguments, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": Decimal("1e10")},
        {"amount": Decimal("10000000000.00")},
        {"payment_method": "pm_sandbox_ok\x00"},
        {"payment_method": ""},
        {"user_id": None},
        {"order_id": str(ORDER_ID)},
        {"invoice_lines": (LINE(description="Mug\x00", quantity=1, unit_amount=Decimal("10.00")),)},
        {"invoice_lines": (LINE(description="Mug\ud800", quantity=1, unit_amount=Decimal("10.00")),)},
        {"invoice_lines": (LINE(description=7, quantity=1, unit_amount=Decimal("10.00")),)},
        {"invoice_lines": (LINE(description="Mug", quantity=1.0, unit_amount=Decimal("10.00")),)},
        {"invoice_lines": (LINE(description="Mug", quantity="1", unit_amount=Decimal("10.00")),)},
        {"invoice_lines": (LINE(description="Mug", quantity=Decimal("1"), unit_amount=Decimal("10.00")),)},
        {"invoice_lines": (LINE(description="Mug", quantity=True, unit_amount=Decimal("10.00")),)},
        {"invoice_lines": ({"description": "Mug", "quantity": 1, "unit_amount": "10.00"},)},
        {"invoice_lines": "Mug"},
        {"billing_address": ["a"]},
        {"billing_address": {"city": "Par\x00is"}},
        {"billing_address": {"ci\ud800ty": "Paris"}},
    ],
    ids=lambda c: repr(c)[:60],
)
def test_a_hostile_authorize_is_refused_before_anything_is_kept(changes, transport):
    if transport == "over-the-codec" and (
        "order_id" in changes or isinstance((changes.get("invoice_lines") or (None,))[0], dict)
    ):
        pytest.skip("on the wire a UUID is its string and a line an object: well-formed there")
    with pytest.raises((ValidationError, CodecError, api.PaymentsError)):
        _authorize(**changes)
    assert not Payment.objects.exists() and charges() == 0


@pytest.mark.parametrize(
    ("reason", "actor"), [("late\x00", ""), ("late", "x" * 201), ("late", "ops\x00"), ("   ", ""), (None, "")]
)
def test_a_hostile_refund_is_refused_and_refunds_nothing(reason, actor, transport):
    payment = authorize(key="r:authorize")
    api.payment_capture(key="r:capture", payment_id=payment.id)
    with pytest.raises((ValidationError, CodecError)):
        api.payment_refund(
            key="r:refund", payment_id=payment.id, amount=Decimal("1.00"), reason=reason, actor=actor
        )
    assert not Refund.objects.exists()


def test_a_key_names_one_request_whatever_it_is_reused_for():
    lines = (LINE(description="Mug", quantity=1, unit_amount=Decimal("10.00")),)
    first = _authorize(invoice_lines=lines)
    # The same authorize key with other invoice lines or another billing address is another request.
    with pytest.raises(api.PaymentKeyConflict):
        _authorize(invoice_lines=(LINE(description="Tea", quantity=1, unit_amount=Decimal("10.00")),))
    with pytest.raises(api.PaymentKeyConflict):
        _authorize(invoice_lines=lines, billing_address={"city": "Paris"})
    api.payment_capture(key="cap-1", payment_id=first.id, amount=Decimal("10.00"))
    # A capture key replayed with another amount, or used for another payment, is refused.
    with pytest.raises(api.PaymentKeyConflict):
        api.payment_capture(key="cap-1", payment_id=first.id, amount=Decimal("9.00"))
    other = authorize(key="other:authorize", order_id=uuid.uuid4())
    with pytest.raises(api.PaymentKeyConflict):
        api.payment_capture(key="cap-1", payment_id=other.id)
    assert api.payment_get(payment_id=other.id).status == "authorized"


def test_a_refund_the_provider_declines_is_a_refund_declined_and_stays_in_the_log():
    payment = authorize(key="d:authorize")
    api.payment_capture(key="d:capture", payment_id=payment.id)
    # The provider's side disagrees (it holds nothing captured): it declines the refund.
    SandboxCharge.objects.filter(reference=payment.provider_reference).update(captured_amount=Decimal("0"))
    with pytest.raises(api.RefundDeclined) as caught:
        api.payment_refund(key="d:refund", payment_id=payment.id, amount=Decimal("5.00"), reason="late")
    assert caught.value.decline_code == "refund_exceeds_captured"
    assert ProviderCall.objects.filter(kind="refund", outcome="declined").count() == 1
    assert not Refund.objects.exists()
    assert api.payment_get(payment_id=payment.id).refunded_amount == Decimal("0")


def test_a_refund_a_payments_status_refuses_is_a_409_problem_over_http_never_a_500():
    staff = client_for(uuid.uuid4(), "staff")
    payment = authorize(key="s:authorize")
    url = f"/api/v1/payments/{payment.id}/refunds/"
    body = {"amount": "1.00", "reason": "x"}
    refused = staff.post(url, body, format="json", secure=True, HTTP_IDEMPOTENCY_KEY="a")
    assert refused.status_code == 409, refused.content
    problem = refused.json()
    assert problem["type"].endswith("/payment-state-conflict") and problem["status"] == 409
    assert problem["current_status"] == "authorized"
    api.payment_capture(key="s:capture", payment_id=payment.id)
    assert (
        staff.post(
            url, {"amount": "100.00", "reason": "x"}, format="json", secure=True, HTTP_IDEMPOTENCY_KEY="b"
        ).status_code
        == 201
    )
    again = staff.post(url, body, format="json", secure=True, HTTP_IDEMPOTENCY_KEY="c")
    assert again.status_code == 409 and again.json()["current_status"] == "refunded"


def test_what_remains_is_written_with_the_currencys_places():
    payment = authorize(key="jpy:authorize", amount="1500", currency="JPY")
    api.payment_capture(key="jpy:capture", payment_id=payment.id)
    api.payment_refund(key="jpy:r1", payment_id=payment.id, amount=Decimal("1"), reason="x")
    with pytest.raises(api.RefundExceedsCaptured) as caught:
        api.payment_refund(key="jpy:r2", payment_id=payment.id, amount=Decimal("1500"), reason="x")
    assert str(caught.value.remaining) == "1499" and "At most 1499 remains" in caught.value.detail
