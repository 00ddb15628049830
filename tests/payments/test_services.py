"""Authorize, capture, void and refund through the payments api with the sandbox provider: idempotent
by key, declines replayed, transitions checked, and a charge in doubt settled by lookup."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contexts.payments import api
from contexts.payments.models import Payment, ProviderCall, SandboxCharge
from contexts.payments.providers import ProviderUnavailable
from contexts.payments.providers.sandbox import SandboxProvider
from integration.bus.models import OutboxMessage
from integration.errors import BusinessError, TransientError
from tests.payments.conftest import ORDER_ID, authorize, charges, provider_calls

pytestmark = pytest.mark.django_db


def published(event_type: str) -> int:
    return OutboxMessage.objects.filter(type=event_type).count()


def test_the_same_authorize_key_ten_times_charges_once_and_answers_the_same():
    results = [authorize() for _ in range(10)]
    assert all(r == results[0] for r in results)
    assert results[0].status == "authorized" and results[0].provider == "sandbox"
    assert results[0].provider_reference.startswith("sbx_ch_")
    assert charges() == 1
    assert provider_calls("authorize") == 1
    assert published("payments.PaymentAuthorized.v1") == 1


def test_a_key_reused_for_another_request_is_a_conflict():
    authorize(amount="100.00")
    with pytest.raises(api.PaymentKeyConflict):
        authorize(amount="90.00")
    assert charges() == 1


@pytest.mark.parametrize(
    ("method", "code"),
    [("pm_sandbox_declined", "card_declined"), ("pm_sandbox_insufficient_funds", "insufficient_funds")],
)
def test_a_decline_carries_its_code_and_is_replayed_without_calling_the_provider(method, code):
    with pytest.raises(api.PaymentDeclined) as first:
        authorize(method=method)
    with pytest.raises(api.PaymentDeclined) as again:
        authorize(method=method)
    assert isinstance(first.value, BusinessError)
    assert first.value.decline_code == code
    assert again.value == first.value
    assert provider_calls("authorize") == 1
    assert charges() == 0
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_code) == ("failed", code)
    assert published("payments.PaymentFailed.v1") == 1


def test_an_unknown_payment_method_is_invalid_and_replayed():
    with pytest.raises(api.InvalidPaymentMethod) as first:
        authorize(method="pm_card_visa")
    with pytest.raises(api.InvalidPaymentMethod) as again:
        authorize(method="pm_card_visa")
    assert first.value.decline_code == "invalid_payment_method"
    assert again.value == first.value
    assert provider_calls("authorize") == 1


def test_flaky_succeeds_on_the_third_attempt_with_one_charge():
    payment = authorize(method="pm_sandbox_flaky")
    assert payment.status == "authorized"
    outcomes = list(ProviderCall.objects.filter(kind="authorize").values_list("outcome", flat=True))
    assert outcomes == ["error", "error", "approved"]
    assert charges() == 1


def test_a_provider_error_ends_transient_in_doubt_and_charges_nothing():
    with pytest.raises(api.PaymentProviderUnavailable) as exc:
        authorize(method="pm_sandbox_error")
    assert isinstance(exc.value, TransientError)
    assert Payment.objects.get().status == "in_doubt"
    assert provider_calls("authorize") == 3
    assert charges() == 0
    # Retrying with the key asks the provider first: it never acted, so the call is made again.
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(method="pm_sandbox_error")
    assert provider_calls("lookup") == 1
    assert charges() == 0


def test_in_doubt_after_a_lost_answer_then_a_void_leaves_nothing_standing_at_the_provider():
    with pytest.raises(api.PaymentProviderUnavailable) as exc:
        authorize(method="pm_sandbox_timeout_after_charge")
    assert exc.value.reason == "timeout"
    payment = Payment.objects.get()
    assert payment.status == "in_doubt" and payment.provider_reference == ""
    charge = SandboxCharge.objects.get()
    assert charge.status == "authorized"  # charged at the provider, though we never heard so

    voided = api.payment_void(key="saga-1:compensate", order_id=ORDER_ID)
    assert [p.status for p in voided] == ["voided"]
    assert voided[0].provider_reference == charge.reference  # learned through lookup
    charge.refresh_from_db()
    assert charge.status == "voided"
    assert provider_calls("lookup") == 1
    assert published("payments.PaymentVoided.v1") == 1
    # Voiding again is a no-op success.
    assert api.payment_void(key="saga-1:compensate", order_id=ORDER_ID) == voided
    assert provider_calls("void") == 1


def test_in_doubt_settled_by_a_later_call_with_the_same_key():
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(method="pm_sandbox_timeout_after_charge")
    payment = authorize(method="pm_sandbox_timeout_after_charge")
    assert payment.status == "authorized"
    assert payment.provider_reference == SandboxCharge.objects.get().reference
    assert provider_calls("lookup") == 1
    assert charges() == 1
    assert authorize(method="pm_sandbox_timeout_after_charge") == payment


def test_voiding_an_order_the_provider_never_saw_is_a_no_op_success():
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(method="pm_sandbox_error")
    voided = api.payment_void(key="saga-1:compensate", order_id=ORDER_ID)
    assert [p.status for p in voided] == ["voided"]
    assert provider_calls("void") == 0
    assert charges() == 0


def test_capture_whole_and_replay_then_a_voided_payment_cannot_be_captured():
    payment = authorize()
    captured = api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("100.00"))
    assert api.payment_capture(key="saga-1:capture", payment_id=payment.id) == captured
    assert provider_calls("capture") == 1
    assert published("payments.PaymentCaptured.v1") == 1
    assert SandboxCharge.objects.get().status == "captured"
    with pytest.raises(api.PaymentStateConflict):
        api.payment_void(key="saga-1:void", payment_id=payment.id)

    other = authorize(key="saga-2:authorize")
    api.payment_void(key="saga-2:void", payment_id=other.id)
    with pytest.raises(api.PaymentStateConflict) as exc:
        api.payment_capture(key="saga-2:capture", payment_id=other.id)
    assert exc.value.status == "voided"


def test_a_capture_cannot_exceed_the_authorized_amount():
    payment = authorize(amount="50.00")
    with pytest.raises(api.CaptureExceedsAuthorized) as exc:
        api.payment_capture(key="k:capture", payment_id=payment.id, amount=Decimal("50.01"))
    assert exc.value.authorized == Decimal("50.00")
    partial = api.payment_capture(key="k:capture", payment_id=payment.id, amount=Decimal("20.00"))
    assert partial.captured_amount == Decimal("20.00")
    assert provider_calls("capture") == 1


def test_partial_refund_then_the_rest_ends_refunded_and_over_refund_is_refused():
    payment = authorize()
    api.payment_capture(key="c", payment_id=payment.id)
    first = api.payment_refund(key="r1", payment_id=payment.id, amount=Decimal("30.00"), reason="damaged")
    assert (
        api.payment_refund(key="r1", payment_id=payment.id, amount=Decimal("30.00"), reason="damaged")
        == first
    )
    assert api.payment_get(payment_id=payment.id).status == "partially_refunded"
    with pytest.raises(api.RefundExceedsCaptured) as exc:
        api.payment_refund(key="r2", payment_id=payment.id, amount=Decimal("70.01"), reason="too much")
    assert exc.value.remaining == Decimal("70.00")
    api.payment_refund(key="r3", payment_id=payment.id, amount=Decimal("70.00"), reason="the rest")
    final = api.payment_get(payment_id=payment.id)
    assert (final.status, final.refunded_amount) == ("refunded", Decimal("100.00"))
    assert provider_calls("refund") == 2
    assert published("payments.PaymentRefunded.v1") == 2
    assert SandboxCharge.objects.get().refunded_amount == Decimal("100.00")


def test_an_authorized_but_uncaptured_payment_cannot_be_refunded():
    payment = authorize()
    with pytest.raises(api.PaymentStateConflict):
        api.payment_refund(key="r", payment_id=payment.id, amount=Decimal("1.00"), reason="x")


def test_reads_and_not_found():
    payment = authorize()
    assert api.payment_get(payment_id=payment.id) == payment
    assert api.payments_for_order(order_id=ORDER_ID) == (payment,)
    with pytest.raises(api.PaymentNotFound):
        api.payment_get(payment_id=ORDER_ID)


def test_bad_input_is_a_validation_error_before_any_provider_call():
    from django.core.exceptions import ValidationError

    for kwargs in ({"amount": "0.00"}, {"amount": "1.001"}, {"currency": "XXX"}, {"currency": "KWD"}):
        with pytest.raises(ValidationError):
            authorize(**kwargs)
    assert ProviderCall.objects.count() == 0


def test_the_database_refuses_refunding_more_than_was_captured():
    from django.db import IntegrityError, transaction

    payment = authorize()
    api.payment_capture(key="c", payment_id=payment.id, amount=Decimal("40.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.id).update(refunded_amount=Decimal("40.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.id).update(captured_amount=Decimal("100.01"))


class CaptureAnswerLost(SandboxProvider):
    """The sandbox, except that every capture's answer is lost after the capture took effect."""

    def capture(self, *, key, reference, amount):
        super().capture(key=key, reference=reference, amount=amount)
        raise ProviderUnavailable("timeout")


def test_a_capture_whose_answer_was_lost_is_settled_by_lookup_on_the_next_call(settings):
    payment = authorize()
    settings.PAYMENTS_PROVIDER = f"{__name__}.CaptureAnswerLost"
    with pytest.raises(api.PaymentProviderUnavailable) as exc:
        api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert exc.value.operation == "capture"
    assert Payment.objects.get().status == "in_doubt"
    assert SandboxCharge.objects.get().status == "captured"  # it happened; we never heard
    with pytest.raises(api.PaymentStateConflict):
        api.payment_void(key="saga-1:void", payment_id=payment.id)  # a charge in doubt is not voided

    captured = api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("100.00"))
    assert provider_calls("capture") == 3  # the three attempts of the first call, none after
    assert provider_calls("lookup") == 1
    assert published("payments.PaymentCaptured.v1") == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["clé:authorize", "tab\there", "", "k" * 201, "new\nline"])
def test_a_key_a_provider_header_cannot_carry_is_refused_before_anything_is_kept(key):
    with pytest.raises(ValidationError) as caught:
        authorize(key=key)
    assert "printable ASCII" in str(caught.value)
    assert not Payment.objects.exists() and charges() == 0
