"""The HTTP provider adapter through the payments api, against the stub playing a payment provider on
loopback (real sockets; the breaker's state in real Redis): timeouts, the breaker opening and failing
fast, a retried capture that captures once, and one retry loop rather than two.
"""

import time
from decimal import Decimal
from itertools import pairwise

import pytest

from contexts.payments import api, providers
from contexts.payments.models import Payment, ProviderCall
from integration import resilience
from integration.errors import TransientError
from integration.resilience.stub import PaymentStubProvider, StubServer
from tests.payments.conftest import authorize, provider_calls

pytestmark = pytest.mark.django_db

HTTP_PROVIDER = "contexts.payments.providers.http.HttpProvider"
DEPENDENCY = "payments-provider"
OK, DECLINED = "pm_card_ok", "pm_card_declined"


@pytest.fixture
def stub():
    with StubServer(PaymentStubProvider()) as server:
        yield server


@pytest.fixture
def configure(settings, stub):
    """configure(**overrides) makes the HTTP adapter the provider, its dependency pointed at the stub:
    quick retries and a generous breaker unless a test says otherwise."""
    providers._load.cache_clear()

    def configure(*, breaker: dict | None = None, **overrides) -> None:
        # Over DEFAULTS (merged key by key).
        entry = {
            "base_url": stub.url,
            "read_timeout": 1.0,
            "backoff_base": 0.02,
            "backoff_max": 0.1,
            **overrides,
            "breaker": {"fail_max": 50, "min_calls": 50, **(breaker or {})},
        }
        settings.RESILIENCE = {
            "DEFAULTS": settings.RESILIENCE["DEFAULTS"],
            "DEPENDENCIES": {DEPENDENCY: entry},
        }
        settings.PAYMENTS_PROVIDER = HTTP_PROVIDER

    configure()
    yield configure
    providers._load.cache_clear()


def _unavailable(call) -> api.PaymentProviderUnavailable:
    started = time.monotonic()
    with pytest.raises(api.PaymentProviderUnavailable) as caught:
        call()
    caught.value.elapsed = time.monotonic() - started
    return caught.value


def _breaker() -> str:
    (state,) = [s.state for s in resilience.breaker_states() if s.dependency == DEPENDENCY]
    return state


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the stub never got there"
        time.sleep(0.02)


def test_authorize_capture_refund_and_void_through_the_api_reach_the_provider_once_each(configure, stub):
    payment = authorize(key="saga-1:authorize", method=OK)
    assert (payment.status, payment.provider) == ("authorized", "stub")
    held = stub.app.authorization(payment.provider_reference)
    assert (held["status"], held["amount"], held["currency"]) == ("authorized", "100.00", "EUR")
    assert authorize(key="saga-1:authorize", method=OK) == payment  # replayed here, not sent again
    assert stub.app.calls_for("saga-1:authorize:authorize") == 1

    captured = api.payment_capture(key="saga-1:capture", payment_id=payment.id, amount=Decimal("60.00"))
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("60.00"))
    refund = api.payment_refund(key="r-1", payment_id=payment.id, amount=Decimal("10.00"), reason="damaged")
    assert refund.amount == Decimal("10.00")
    held = stub.app.authorization(payment.provider_reference)
    assert (held["status"], held["captured_amount"], held["refunded_amount"]) == (
        "captured",
        "60.00",
        "10.00",
    )
    # The provider's own refusal, past the services' checks: a decision, not an outage.
    refused = providers.provider().refund(
        key="r-2:refund", reference=payment.provider_reference, amount=Decimal("50.01")
    )
    assert (refused.outcome, refused.decline_code) == (providers.DECLINED, "refund_exceeds_captured")

    other = authorize(key="saga-2:authorize", method=OK, order_id=payment.order_id)
    (voided,) = api.payment_void(key="saga-2:void", payment_id=other.id)
    assert voided.status == "voided"
    assert stub.app.authorization(other.provider_reference)["status"] == "voided"
    assert stub.app.authorizations == 2


def test_declines_and_invalid_methods_are_decisions_with_their_codes(configure, stub):
    with pytest.raises(api.PaymentDeclined) as declined:
        authorize(key="a", method=DECLINED)
    assert declined.value.decline_code == "card_declined"
    with pytest.raises(api.InvalidPaymentMethod):
        authorize(key="b", method="pm_unknown")
    assert stub.app.authorizations == 0
    assert [p.status for p in Payment.objects.order_by("key")] == ["failed", "failed"]


def test_a_4xx_without_a_decline_code_is_no_decision_and_leaves_the_payment_in_doubt(configure, stub):
    stub.app.add_fault(status=401)  # our credentials refused: the provider decided nothing
    error = _unavailable(lambda: authorize(key="a", method=OK))
    assert "no decision in answer 401" in error.reason
    assert Payment.objects.get().status == "in_doubt"
    assert authorize(key="a", method=OK).status == "authorized"  # lookup: nothing there; then sent
    assert stub.app.authorizations == 1


def test_a_key_no_http_header_can_carry_is_refused_before_anything_is_sent_or_kept(configure, stub):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        authorize(key="clé-1", method=OK)
    assert stub.app.total_calls == 0
    assert Payment.objects.count() == 0


def test_a_read_timeout_leaves_the_payment_in_doubt_and_the_next_call_settles_it_by_lookup(configure, stub):
    configure(read_timeout=0.3, max_attempts=2)
    # Slower than the read timeout, every time: the provider acts, but only after we stopped listening.
    stub.app.add_fault(latency=0.8, times=None, method="POST", path="/v1/authorizations")
    error = _unavailable(lambda: authorize(key="a", method=OK))

    assert isinstance(error, TransientError)
    assert "timeout after 2 attempt(s)" in error.reason
    assert error.elapsed < 1.5  # two read timeouts and a backoff, not the stub's latency
    assert Payment.objects.get().status == "in_doubt"
    assert stub.app.calls_for("a:authorize") == 2  # the client's two attempts...
    assert provider_calls("authorize") == 1  # ...are one call to the services: not retried again

    stub.app.clear_faults()
    _wait_for(lambda: stub.app.effects_for("a:authorize") == 1)  # it charged after all
    settled = authorize(key="a", method=OK)
    assert settled.status == "authorized"
    assert stub.app.authorization(settled.provider_reference)["status"] == "authorized"
    lookup = ProviderCall.objects.get(kind="lookup")
    assert (lookup.outcome, lookup.provider_reference) == ("found", settled.provider_reference)
    assert stub.app.calls_for("a:authorize") == 2  # settled by lookup: no third authorize sent
    assert stub.app.authorizations == 1


def test_the_breaker_opens_after_the_failures_and_later_calls_fail_fast_without_sending(configure, stub):
    configure(max_attempts=2, breaker={"fail_max": 2, "reset_timeout": 1.0})
    stub.app.add_fault(status=503, times=None)
    error = _unavailable(lambda: authorize(key="a", method=OK))
    assert "status 503 after 2 attempt(s)" in error.reason
    assert _breaker() == "open"
    assert stub.app.total_calls == 2

    fast = _unavailable(lambda: authorize(key="b", method=OK))
    assert "breaker-open" in fast.reason
    assert fast.elapsed < 0.2
    again = _unavailable(lambda: authorize(key="a", method=OK))  # its lookup is refused too
    assert "breaker-open" in again.reason
    assert stub.app.total_calls == 2  # nothing reached the provider while the breaker was open
    assert [p.status for p in Payment.objects.order_by("key")] == ["in_doubt", "in_doubt"]

    # Healthy again: after the reset timeout one trial (a's lookup) closes the breaker, and a is settled.
    stub.app.clear_faults()
    time.sleep(resilience.breaker(DEPENDENCY).retry_in() + 0.05)
    assert authorize(key="a", method=OK).status == "authorized"
    assert _breaker() == "closed"
    assert stub.app.total_calls == 4  # the lookup (nothing found) and the authorize
    assert stub.app.authorizations == 1


def test_a_capture_whose_answer_is_dropped_is_retried_by_the_client_and_captures_once(configure, stub):
    payment = authorize(key="a", method=OK)
    # The provider captures, then the connection drops before its answer: the client repeats the call.
    capture_path = f"/v1/authorizations/{payment.provider_reference}/capture"
    stub.app.add_fault(drop="after", method="POST", path=capture_path)

    captured = api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("100.00"))
    assert stub.app.calls_for("saga-1:capture:capture") == 2  # asked twice...
    assert stub.app.effects_for("saga-1:capture:capture") == 1
    held = stub.app.authorization(payment.provider_reference)
    assert (held["captures"], held["captured_amount"]) == (1, "100.00")  # ...captured once
    assert provider_calls("capture") == 1


def test_the_services_pause_between_the_retries_an_adapter_leaves_to_them(settings):
    # The sandbox's failures are retryable (it has no client of its own): retried with equal jitter,
    # so each pause is at least half its ceiling: 0.1 s after the first failure, 0.2 s after the second.
    settings.PAYMENTS_PROVIDER_BACKOFF_BASE, settings.PAYMENTS_PROVIDER_BACKOFF_MAX = 0.2, 1.0
    authorize(key="a", method="pm_sandbox_flaky")
    calls = list(ProviderCall.objects.filter(kind="authorize").order_by("created_at"))
    assert [c.outcome for c in calls] == ["error", "error", "approved"]
    gaps = [(later.created_at - earlier.created_at).total_seconds() for earlier, later in pairwise(calls)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2
