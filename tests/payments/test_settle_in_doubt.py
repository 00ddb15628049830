"""The beat task that settles payments left in doubt: it asks the provider (`lookup` by key) and acts
on the answer, once per payment, however many runs race, and leaves a silent provider for the next run."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from contexts.payments import api, tasks
from contexts.payments.in_doubt import payments_settle_in_doubt
from contexts.payments.models import Payment, SandboxCharge
from contexts.payments.providers import ProviderUnavailable
from contexts.payments.providers.sandbox import SandboxProvider
from integration.bus.models import OutboxMessage
from tests.payments.conftest import authorize, charges, provider_calls
from tests.payments.test_concurrency import race

AUTHORIZED = "payments.PaymentAuthorized.v1"
FAILED = "payments.PaymentFailed.v1"
CAPTURED = "payments.PaymentCaptured.v1"
VOIDED = "payments.PaymentVoided.v1"


def published(event_type: str) -> int:
    return OutboxMessage.objects.filter(type=event_type).count()


def in_doubt(key: str = "saga-1:authorize", method: str = "pm_sandbox_timeout_after_charge") -> Payment:
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(key=key, method=method)
    return Payment.objects.get(key=key)


def age(payment: Payment, seconds: float) -> None:
    """Make the payment (its creation and its doubt) `seconds` older."""
    past = timezone.now() - dt.timedelta(seconds=seconds)
    Payment.objects.filter(pk=payment.pk).update(created_at=past, updated_at=past)


class CaptureAnswerLost(SandboxProvider):
    """The sandbox, except that every capture's answer is lost after the capture took effect."""

    def capture(self, *, key, reference, amount):
        super().capture(key=key, reference=reference, amount=amount)
        raise ProviderUnavailable("timeout")


class CaptureNeverArrives(SandboxProvider):
    """The sandbox, except that no capture reaches it: the connection fails before it acts."""

    def capture(self, *, key, reference, amount):
        raise ProviderUnavailable("connection refused")


class LookupDown(SandboxProvider):
    """The sandbox while it answers nothing at all, lookups included."""

    def lookup(self, *, key):
        raise ProviderUnavailable("provider error")


# --- authorize in doubt ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_authorize_whose_answer_was_lost_becomes_authorized_and_is_published_once():
    payment = in_doubt()
    assert charges() == 1 and published(AUTHORIZED) == 0
    age(payment, 61)

    assert tasks.settle_in_doubt() == {"authorized": 1}
    payment.refresh_from_db()
    assert (payment.status, payment.doubt) == ("authorized", "")
    assert payment.provider_reference == SandboxCharge.objects.get().reference
    assert SandboxCharge.objects.get().status == "authorized"  # left for the saga to capture or void
    assert provider_calls("lookup") == 1
    assert published(AUTHORIZED) == 1

    # Nothing left to settle; the caller's retry with its key finds the answer without the provider.
    assert tasks.settle_in_doubt() == {}
    again = authorize(method="pm_sandbox_timeout_after_charge")
    assert (again.status, again.provider_reference) == ("authorized", payment.provider_reference)
    assert provider_calls("lookup") == 1
    assert provider_calls("authorize") == 3  # the first call's three attempts, none since
    assert published(AUTHORIZED) == 1
    assert charges() == 1
    # And the saga carries on: the authorization captures.
    assert api.payment_capture(key="saga-1:capture", payment_id=again.id).status == "captured"


@pytest.mark.django_db
def test_an_authorize_the_provider_never_received_fails_and_charges_nothing():
    payment = in_doubt(method="pm_sandbox_error")
    age(payment, 61)

    assert tasks.settle_in_doubt() == {"failed": 1}
    payment.refresh_from_db()
    assert (payment.status, payment.doubt, payment.failure_code) == ("failed", "", "provider_unavailable")
    assert published(FAILED) == 1
    message = OutboxMessage.objects.get(type=FAILED).payload
    assert message["failure_code"] == "provider_unavailable"

    # The decision is final: a retry with the key is answered from it, without calling the provider.
    with pytest.raises(api.PaymentDeclined) as exc:
        authorize(method="pm_sandbox_error")
    assert exc.value.decline_code == "provider_unavailable"
    assert provider_calls("authorize") == 3
    assert provider_calls("lookup") == 1
    assert charges() == 0
    assert published(FAILED) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "void_calls"), [("pm_sandbox_timeout_after_charge", 1), ("pm_sandbox_error", 0)]
)
def test_an_authorize_in_doubt_past_the_void_age_is_voided_and_nothing_stands(settings, method, void_calls):
    settings.PAYMENTS_IN_DOUBT_VOID_AFTER_SECONDS = 3600
    payment = in_doubt(method=method)
    age(payment, 3601)

    assert tasks.settle_in_doubt() == {"voided": 1}
    payment.refresh_from_db()
    assert (payment.status, payment.doubt) == ("voided", "")
    assert not SandboxCharge.objects.filter(status="authorized").exists()
    assert provider_calls("void") == void_calls
    assert published(VOIDED) == 1
    assert published(AUTHORIZED) == published(FAILED) == 0
    # Capturing it now is refused: the checkout that asked for it is long gone.
    with pytest.raises(api.PaymentStateConflict):
        api.payment_capture(key="saga-1:capture", payment_id=payment.id)


@pytest.mark.django_db
def test_a_payment_in_doubt_within_the_grace_is_left_to_its_caller(settings):
    settings.PAYMENTS_IN_DOUBT_GRACE_SECONDS = 60
    payment = in_doubt()
    age(payment, 30)
    assert tasks.settle_in_doubt() == {}
    assert provider_calls("lookup") == 0
    assert Payment.objects.get().status == "in_doubt"
    assert payments_settle_in_doubt(now=timezone.now() + dt.timedelta(seconds=31)) == {"authorized": 1}


@pytest.mark.django_db
def test_a_provider_still_down_leaves_the_payment_in_doubt_for_the_next_run(settings):
    payment = in_doubt()
    age(payment, 61)
    settings.PAYMENTS_PROVIDER = f"{__name__}.LookupDown"
    assert tasks.settle_in_doubt() == {"in_doubt": 1}  # asked once in this run, not again
    payment.refresh_from_db()
    assert payment.status == "in_doubt"
    assert list(payment.calls.filter(kind="lookup").values_list("outcome", flat=True)) == ["error"]

    settings.PAYMENTS_PROVIDER = "contexts.payments.providers.sandbox.SandboxProvider"
    assert tasks.settle_in_doubt() == {"authorized": 1}
    assert published(AUTHORIZED) == 1


@pytest.mark.django_db
def test_a_run_settles_at_most_a_batch_oldest_doubt_first(settings):
    settings.PAYMENTS_IN_DOUBT_BATCH = 2
    payments = [in_doubt(key=f"saga-{i}:authorize") for i in range(3)]
    for i, payment in enumerate(payments):
        age(payment, 200 - i)
    assert tasks.settle_in_doubt() == {"authorized": 2}
    statuses = [Payment.objects.get(pk=p.pk).status for p in payments]
    assert statuses == ["authorized", "authorized", "in_doubt"]
    assert tasks.settle_in_doubt() == {"authorized": 1}


# --- capture in doubt --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_capture_whose_answer_was_lost_becomes_captured(settings):
    payment = authorize()
    settings.PAYMENTS_PROVIDER = f"{__name__}.CaptureAnswerLost"
    with pytest.raises(api.PaymentProviderUnavailable):
        api.payment_capture(key="saga-1:capture", payment_id=payment.id, amount=Decimal("60.00"))
    age(Payment.objects.get(), 61)

    assert tasks.settle_in_doubt() == {"captured": 1}
    settled = api.payment_get(payment_id=payment.id)
    assert (settled.status, settled.captured_amount) == ("captured", Decimal("60.00"))
    assert published(CAPTURED) == 1
    assert provider_calls("capture") == 3  # the first call's attempts; the sweep only looked up
    # The saga's retry finds it done.
    assert (
        api.payment_capture(key="saga-1:capture", payment_id=payment.id, amount=Decimal("60.00")) == settled
    )
    assert published(CAPTURED) == 1


@pytest.mark.django_db
def test_a_capture_that_never_reached_the_provider_is_authorized_again(settings):
    payment = authorize()
    settings.PAYMENTS_PROVIDER = f"{__name__}.CaptureNeverArrives"
    with pytest.raises(api.PaymentProviderUnavailable):
        api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    age(Payment.objects.get(), 61)

    assert tasks.settle_in_doubt() == {"authorized": 1}
    assert api.payment_get(payment_id=payment.id).status == "authorized"
    assert SandboxCharge.objects.get().status == "authorized"  # the sweep captures nothing itself
    assert published(CAPTURED) == 0

    settings.PAYMENTS_PROVIDER = "contexts.payments.providers.sandbox.SandboxProvider"
    captured = api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert captured.status == "captured"
    assert SandboxCharge.objects.get().status == "captured"
    assert published(CAPTURED) == 1


# --- wiring and races --------------------------------------------------------------------------------


def test_the_beat_schedule_runs_the_task(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["payments.settle_in_doubt"]
    assert entry["task"] == tasks.settle_in_doubt.name == "payments.settle_in_doubt"
    assert entry["schedule"] == 60.0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_two_runs_at_once_settle_each_payment_once():
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is what is tested")
    payments = [in_doubt(key=f"saga-{i}:authorize") for i in range(12)]
    for payment in payments:
        age(payment, 61)
    outcomes, results = race([payments_settle_in_doubt] * 2)
    assert outcomes == Counter(ok=2)
    assert sum(r.get("authorized", 0) for r in results) == 12
    assert provider_calls("lookup") == 12
    assert published(AUTHORIZED) == 12
    assert not Payment.objects.filter(status="in_doubt").exists()
