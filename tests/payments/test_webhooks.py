"""The payment provider's webhooks through POST /api/v1/payments/webhooks/sandbox/, on PostgreSQL: signed
deliveries move a payment forward only, once per event id, whatever order and however often they come;
anything unsigned, stale or malformed is a 400 that changes nothing."""

import json
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from contexts.payments import api
from contexts.payments.models import Payment, SandboxCharge
from contexts.payments.providers.sandbox import charge_webhook, webhook_body
from integration import webhooks
from integration.bus.models import OutboxMessage
from integration.webhooks import WebhookDelivery
from tests.payments.conftest import authorize, provider_calls
from tests.payments.test_concurrency import race

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/webhooks/sandbox/"
SECRET = "whsec-test-current"
PROBLEM = "application/problem+json"
AUTHORIZED, CAPTURED = "payments.PaymentAuthorized.v1", "payments.PaymentCaptured.v1"
INVOICED = "payments.InvoiceIssued.v1"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.PAYMENTS_WEBHOOK_SECRET = SECRET


def deliver(body: bytes, *, secret=SECRET, timestamp: int | None = None, header: str | None = None):
    """POST a webhook as the provider does: signed with `secret` at `timestamp` (now), unless `header`."""
    if header is None:
        header = webhooks.sign(body, secret=secret, timestamp=timestamp)
    return Client().post(URL, data=body, content_type="application/json", HTTP_SHOP_SIGNATURE=header)


def outcome(response) -> str:
    assert response.status_code == 200, response.content
    return response.json()["outcome"]


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


def in_doubt(key: str) -> Payment:
    """A payment the sandbox authorized but whose answer was lost: in doubt, reference unknown."""
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(key=key, method="pm_sandbox_timeout_after_charge")
    return Payment.objects.get(key=key)


def start(kind: str, key: str) -> Payment:
    if kind == "in_doubt":
        return in_doubt(key)
    authorize(key=key)
    return Payment.objects.get(key=key)


def events_of(payment: Payment) -> list[str]:
    """The events published about the payment (outbox rows), oldest first."""
    rows = OutboxMessage.objects.filter(payload__payment_id=str(payment.id)).order_by("created_at")
    return list(rows.values_list("type", flat=True))


def state(payment: Payment) -> dict:
    payment.refresh_from_db()
    charge = SandboxCharge.objects.get(key=f"{payment.key}:authorize")
    return {
        "status": payment.status,
        "doubt": payment.doubt,
        "captured_amount": payment.captured_amount,
        "refunded_amount": payment.refunded_amount,
        "failure_code": payment.failure_code,
        "reference_is_the_charge": payment.provider_reference == charge.reference,
        "events": events_of(payment),
    }


def about(payment: Payment, event_type: str, **kw) -> bytes:
    return charge_webhook(event_type, key=f"{payment.key}:authorize", **kw)


def unchanged_snapshot() -> tuple:
    """Everything a webhook could change, to prove a refused one changed nothing."""
    payments = list(Payment.objects.order_by("pk").values())
    return payments, OutboxMessage.objects.count(), WebhookDelivery.objects.count()


# --- order, repetition ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["in_doubt", "authorized"])
def test_each_event_three_times_out_of_order_ends_as_one_in_order_delivery(kind):
    single, repeated = start(kind, "order-a:authorize"), start(kind, "order-b:authorize")

    single_events = [about(single, "payment.authorized"), about(single, "payment.captured")]
    assert [outcome(deliver(body)) for body in single_events] == (
        ["applied", "applied"] if kind == "in_doubt" else ["unchanged", "applied"]
    )

    authorized, captured = about(repeated, "payment.authorized"), about(repeated, "payment.captured")
    outcomes = [
        outcome(deliver(body)) for body in (captured, authorized, captured, authorized, authorized, captured)
    ]
    assert outcomes == ["applied", "unchanged", *["duplicate"] * 4]

    assert (
        state(single)
        == state(repeated)
        == {
            "status": "captured",
            "doubt": "",
            "captured_amount": Decimal("100.00"),
            "refunded_amount": Decimal("0.00"),
            "failure_code": "",
            "reference_is_the_charge": True,
            "events": [AUTHORIZED, CAPTURED, INVOICED],  # each published once, in the order of the steps
        }
    )
    assert WebhookDelivery.objects.filter(source="payments.sandbox").count() == 4


def test_a_late_authorized_or_captured_never_moves_a_payment_back():
    payment = authorize(key="late:authorize")
    api.payment_capture(key="late:capture", payment_id=payment.id)
    api.payment_refund(key="late:refund", payment_id=payment.id, amount=Decimal("30.00"), reason="dent")
    late = Payment.objects.get(pk=payment.id)
    for event_type in ("payment.authorized", "payment.captured", "payment.voided"):
        assert outcome(deliver(about(late, event_type))) == "unchanged"
    after = api.payment_get(payment_id=payment.id)
    assert (after.status, after.captured_amount, after.refunded_amount) == (
        "partially_refunded",
        Decimal("100.00"),
        Decimal("30.00"),
    )
    assert events_of(late) == [AUTHORIZED, CAPTURED, INVOICED, "payments.PaymentRefunded.v1"]


def test_voided_is_an_end_a_later_capture_report_does_not_leave():
    payment = start("authorized", "void:authorize")
    assert outcome(deliver(about(payment, "payment.voided"))) == "applied"
    assert outcome(deliver(about(payment, "payment.captured"))) == "unchanged"
    assert outcome(deliver(about(payment, "payment.authorized"))) == "unchanged"
    payment.refresh_from_db()
    assert payment.status == "voided"
    assert events_of(payment) == [AUTHORIZED, "payments.PaymentVoided.v1"]


# --- a payment in doubt, settled by the provider's word ----------------------------------------------


def test_an_authorized_webhook_settles_a_payment_in_doubt_and_the_next_call_needs_no_lookup():
    payment = in_doubt("doubt:authorize")
    assert (payment.status, payment.doubt, payment.provider_reference) == ("in_doubt", "authorize", "")

    assert outcome(deliver(about(payment, "payment.authorized"))) == "applied"
    settled = api.payment_get(payment_id=payment.id)
    assert settled.status == "authorized"
    assert settled.provider_reference == SandboxCharge.objects.get().reference
    assert events_of(payment) == [AUTHORIZED]

    # The caller's retry with its key finds the payment settled: no lookup, no second charge or event.
    again = authorize(key="doubt:authorize", method="pm_sandbox_timeout_after_charge")
    assert again == api.payment_get(payment_id=payment.id)
    assert provider_calls("lookup") == 0
    assert SandboxCharge.objects.count() == 1
    assert events_of(payment) == [AUTHORIZED]


def test_a_failed_webhook_settles_a_payment_in_doubt_as_declined():
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(key="fail:authorize", method="pm_sandbox_error")
    data = {"key": "fail:authorize:authorize", "failure_code": "card_declined", "message": "Declined."}
    assert outcome(deliver(webhook_body("payment.failed", data=data))) == "applied"
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_code) == ("failed", "card_declined")
    assert events_of(payment) == ["payments.PaymentFailed.v1"]
    with pytest.raises(api.PaymentDeclined):  # the caller's retry gets the decline, replayed
        authorize(key="fail:authorize", method="pm_sandbox_error")
    assert events_of(payment) == ["payments.PaymentFailed.v1"]


# --- refused: unsigned, wrong secret, stale, tampered ------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("body", "mismatch"),
        ("wrong-secret", "mismatch"),
        ("301-s-old", "stale"),
        ("301-s-ahead", "stale"),
        ("missing", "missing"),
        ("no-v1", "malformed"),
    ],
)
def test_an_unproven_delivery_is_a_400_and_changes_nothing(tamper, reason):
    payment = start("in_doubt", "tamper:authorize")
    body = about(payment, "payment.captured")
    before = unchanged_snapshot()
    now = int(time.time())
    if tamper == "body":
        signed = webhooks.sign(body, secret=SECRET)
        response = deliver(body.replace(b'"100.00"', b'"1.00"'), header=signed)
    elif tamper == "wrong-secret":
        response = deliver(body, secret="whsec-someone-else")
    elif tamper == "301-s-old":
        response = deliver(body, timestamp=now - 301)
    elif tamper == "301-s-ahead":
        response = deliver(body, timestamp=now + 301)
    elif tamper == "missing":
        response = Client().post(URL, data=body, content_type="application/json")
    else:
        response = deliver(body, header=f"t={now}")
    assert problem(response, 400, "webhook-signature-invalid")["reason"] == reason
    assert unchanged_snapshot() == before
    # The genuine delivery is still handled afterwards: nothing of the refused one was recorded.
    assert outcome(deliver(body)) == "applied"


def test_a_rotated_secret_works_while_both_are_configured(settings):
    settings.PAYMENTS_WEBHOOK_SECRET = "whsec-new, whsec-old"
    payment = start("in_doubt", "rotate:authorize")
    assert outcome(deliver(about(payment, "payment.authorized"), secret="whsec-old")) == "applied"
    assert outcome(deliver(about(payment, "payment.captured"), secret="whsec-new")) == "applied"
    # A sender signing with both during its own switch is accepted too.
    assert (
        outcome(deliver(about(payment, "payment.captured"), secret=["whsec-new", "whsec-old"])) == "unchanged"
    )

    settings.PAYMENTS_WEBHOOK_SECRET = "whsec-new"  # the rotation is over
    before = unchanged_snapshot()
    late = deliver(about(payment, "payment.voided"), secret="whsec-old")
    assert problem(late, 400, "webhook-signature-invalid")["reason"] == "mismatch"
    assert unchanged_snapshot() == before


def test_an_unknown_provider_is_a_404_problem():
    body = webhook_body("payment.captured", data={"reference": "x", "amount": "1.00", "currency": "EUR"})
    header = webhooks.sign(body, secret=SECRET)
    response = Client().post(
        "/api/v1/payments/webhooks/acme/",
        data=body,
        content_type="application/json",
        HTTP_SHOP_SIGNATURE=header,
    )
    problem(response, 404, "not-found")


# --- signed, but not something to act on -----------------------------------------------------------


def test_an_event_type_the_adapter_does_not_handle_is_answered_200_and_ignored():
    payment = start("authorized", "unknown-type:authorize")
    before = unchanged_snapshot()
    body = webhook_body("payment.refunded", data={"reference": "sbx_re_1", "amount": "5.00"})
    assert outcome(deliver(body)) == "ignored"
    body = webhook_body("charge.dispute.created", data={})
    assert outcome(deliver(body)) == "ignored"
    assert unchanged_snapshot() == before
    assert Payment.objects.get(pk=payment.pk).status == "authorized"


def _logged(caplog, event: str) -> list[dict]:
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == event]


def test_an_unknown_payment_is_answered_200_ignored_and_logged(caplog):
    start("authorized", "known:authorize")
    before = unchanged_snapshot()
    data = {"reference": "sbx_ch_nobody", "amount": "100.00", "currency": "EUR"}
    body = webhook_body("payment.captured", data=data, event_id="evt_nobody")
    with caplog.at_level("WARNING", logger="contexts.payments.services_webhooks"):
        assert outcome(deliver(body)) == "ignored"
    [logged] = _logged(caplog, "payments.webhook.unknown_payment")
    assert (logged["event_id"], logged["reference"], logged["provider"]) == (
        "evt_nobody",
        "sbx_ch_nobody",
        "sandbox",
    )
    assert unchanged_snapshot() == before  # not even the delivery is recorded: a later retry is handled


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": "100.01"}, "more captured than authorized"),
        ({"amount": "10.005"}, "an amount the payment cannot hold"),
        ({"currency": "USD"}, "another currency"),
        ({"reference": "sbx_ch_other"}, "another charge: the references differ"),
    ],
)
def test_an_event_that_contradicts_the_payment_is_ignored_and_logged(caplog, change, reason):
    payment = start("authorized", "contradict:authorize")
    charge = SandboxCharge.objects.get()
    data = {"reference": charge.reference, "key": charge.key, "amount": "100.00", "currency": "EUR", **change}
    before = unchanged_snapshot()
    with caplog.at_level("WARNING", logger="contexts.payments.services_webhooks"):
        assert outcome(deliver(webhook_body("payment.captured", data=data))) == "ignored"
    [logged] = _logged(caplog, "payments.webhook.contradicts_payment")
    assert (logged["reason"], logged["payment_id"]) == (reason, str(payment.id))
    assert unchanged_snapshot() == before


def _envelope(**fields) -> bytes:
    document = {"id": "evt_1", "type": "payment.captured", "created": 1, "data": {}, **fields}
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def _captured(**data) -> bytes:
    fields = {"reference": "sbx_ch_1", "amount": "1.00", "currency": "EUR", **data}
    return _envelope(data={k: v for k, v in fields.items() if v is not ...})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"payment.captured"', id="string"),
        pytest.param(b'{"id": "e", "type": "payment.captured", "created": NaN, "data": {}}', id="nan"),
        pytest.param(_envelope(id=...), id="no-id"),
        pytest.param(_envelope(id=""), id="empty-id"),
        pytest.param(_envelope(id=7), id="numeric-id"),
        pytest.param(_envelope(id="e" * 201), id="id-too-long"),
        pytest.param(_envelope(id="evt\u0000"), id="nul-id"),
        pytest.param(_envelope(id="evt\ud800"), id="lone-surrogate-id"),
        pytest.param(_envelope(type=...), id="no-type"),
        pytest.param(_envelope(created=...), id="no-created"),
        pytest.param(_envelope(created="1"), id="string-created"),
        pytest.param(_envelope(created=True), id="boolean-created"),
        pytest.param(_envelope(created=-1), id="negative-created"),
        pytest.param(_envelope(created=1.5), id="fractional-created"),
        pytest.param(_envelope(created=10**30), id="giant-created"),
        pytest.param(_envelope(data=...), id="no-data"),
        pytest.param(_envelope(data=[]), id="array-data"),
        pytest.param(
            b'{"id": "e", "type": "x", "created": 1, "data": ' + b"[" * 99 + b"]" * 99 + b"}", id="deep"
        ),
        pytest.param(
            b'{"id": "e", "type": "x", "created": 1, "data": {"n": ' + b"9" * 4301 + b"}}",
            id="giant-number-in-data",
        ),
        pytest.param(_captured(amount=...), id="no-amount"),
        pytest.param(_captured(amount=1.0), id="float-amount"),
        pytest.param(_captured(amount="1e2"), id="exponent-amount"),
        pytest.param(_captured(amount="-1.00"), id="negative-amount"),
        pytest.param(_captured(currency="eur"), id="lower-currency"),
        pytest.param(_captured(currency=...), id="no-currency"),
        pytest.param(_captured(reference=...), id="no-reference"),
        pytest.param(_captured(reference=5), id="numeric-reference"),
        pytest.param(
            _envelope(type="payment.failed", data={"failure_code": "card_declined"}),
            id="failed-names-nothing",
        ),
        pytest.param(_envelope(type="payment.failed", data={"key": "k:authorize"}), id="failed-without-code"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_a_400_problem_and_changes_nothing(body):
    start("authorized", "malformed:authorize")
    before = unchanged_snapshot()
    response = deliver(body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].rsplit("/", 1)[1] in ("validation-error", "bad-request")
    assert unchanged_snapshot() == before


def test_a_malformed_field_is_named_in_the_problem():
    body = deliver(_captured(amount="1e2", currency="eur"))
    errors = problem(body, 400, "validation-error")["errors"]
    assert set(errors) == {"data.amount", "data.currency"}
    body = deliver(_captured(currency=...))
    assert problem(body, 400, "validation-error")["errors"] == {"data.currency": ["This field is required."]}
    body = deliver(_envelope(id="evt\ud800"))
    assert problem(body, 400, "validation-error")["errors"] == {"id": ["Text must not contain U+D800."]}


# --- races -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_concurrent_deliveries_of_one_event_have_one_effect():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and the unique delivery record are what is tested")
    payment = start("in_doubt", "race:authorize")
    body = about(payment, "payment.captured", event_id="evt_race")
    calls, outcomes = race([lambda: outcome(deliver(body))] * 8)
    assert calls == Counter(ok=8)
    assert Counter(outcomes) == Counter(applied=1, duplicate=7)
    assert state(payment)["status"] == "captured"
    assert events_of(payment) == [AUTHORIZED, CAPTURED, INVOICED]
    assert WebhookDelivery.objects.filter(event_id="evt_race").count() == 1


# --- the contract ------------------------------------------------------------------------------------


def test_the_operation_is_in_the_schema_without_a_token_and_with_its_signature_header():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/payments/webhooks/{provider}/"]["post"]
    assert operation["operationId"] == "payments_webhook_receive"
    assert "security" not in operation or operation["security"] in ([], [{}])
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["Shop-Signature"]["in"] == "header" and parameters["Shop-Signature"]["required"]
    assert parameters["provider"]["schema"]["enum"] == ["sandbox"]
    assert {"200", "400", "404"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][body]["required"] == ["created", "data", "id", "type"]


def test_other_methods_are_a_405_problem():
    problem(Client().get(URL), 405, "method-not-allowed")


@pytest.mark.django_db
def test_the_sagas_capture_after_the_providers_captured_webhook_is_answered_as_done():
    # The provider's webhook reports the capture before the saga's own capture call: that call must
    # not be refused (the saga would compensate a paid order), and replays with its key still work.
    payment = start("authorized", "saga-w:authorize")
    assert outcome(deliver(charge_webhook("payment.captured", key="saga-w:authorize:authorize"))) == "applied"
    captured = api.payment_capture(key="saga-w:capture", payment_id=payment.id)
    assert captured.status == "captured" and captured.captured_amount == payment.amount
    assert api.payment_capture(key="saga-w:capture", payment_id=payment.id).status == "captured"
    assert provider_calls("capture") == 0
    assert events_of(payment).count(CAPTURED) == 1
    # Another key, or another amount, is a different capture: refused.
    with pytest.raises(api.PaymentStateConflict):
        api.payment_capture(key="other:capture", payment_id=payment.id)
