"""The HTTP provider adapter: the provider port spoken as JSON to a provider endpoint, through the
resilient client for dependency "payments-provider" (timeouts, retries of keyed calls, shared breaker).

Choose it with PAYMENTS_PROVIDER = "contexts.payments.providers.http.HttpProvider"; point it with
RESILIENCE["DEPENDENCIES"]["payments-provider"] (at least "base_url"); the name it records on each
payment is PAYMENTS_HTTP_PROVIDER_NAME. The stub provider (integration.resilience.stub, `make
stub-provider`) speaks this format.

The wire format. Amounts are decimal strings ("19.99"), currencies ISO 4217 codes. Every write is a
POST carrying our key, `<key>:<operation>`, as `Idempotency-Key`: the provider acts once per key and
answers a repeat with its first answer, so a retried call cannot charge twice.

    POST /v1/authorizations                     {"amount": "100.00", "currency": "EUR",
                                                 "payment_method": "pm_..."}
        201 {"id": "auth_...", "status": "authorized", "amount": "100.00", "currency": "EUR"}
        402 {"status": "declined", "decline_code": "card_declined", "message": "..."}
        422 {"status": "invalid", "decline_code": "invalid_payment_method", "message": "..."}
    POST /v1/authorizations/<id>/capture        {"amount": "60.00"}
        200 {"id": "auth_...", "status": "captured", "amount": "60.00"}
        409 {"decline_code": "charge_not_capturable", "message": "..."}
    POST /v1/authorizations/<id>/void           {}
        200 {"id": "auth_...", "status": "voided"}
        409 {"decline_code": "charge_not_voidable", "message": "..."}
    POST /v1/authorizations/<id>/refunds        {"amount": "10.00"}
        201 {"id": "re_...", "status": "succeeded", "authorization": "auth_...", "amount": "10.00"}
        409 {"decline_code": "refund_exceeds_captured", "message": "..."}
    (an unknown <id>: 404 {"decline_code": "no_such_authorization", ...})
    GET  /v1/operations?key=<key>               what the write keyed <key> answered first, if anything
        200 {"key": "...", "found": true, "status": 201, "body": {...that answer's body...}}
        200 {"key": "...", "found": false}

How an answer maps onto ProviderResult (a looked-up answer maps the same way):

- 2xx: approved; `reference` is the body's "id", `amount` its "amount" (if any).
- 4xx whose body carries a "decline_code": a decision. 422 is invalid (the request itself is refused),
  anything else declined; `decline_code` and `message` from the body.
- Anything else raises ProviderUnavailable(retryable=False): DependencyUnavailable from the client
  (connect, timeout, dropped, 5xx or 429 after its retries, breaker open), a 3xx, a 4xx without a
  decline code (our credentials or request refused: no decision was taken), an unreadable body. The
  client has already retried what could be retried with backoff, so the payments services must not
  retry again; what a write did is settled by `lookup` on the next call with its key.
"""

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

from contexts.payments.providers import (
    APPROVED,
    DECLINED,
    INVALID,
    ProviderResult,
    ProviderUnavailable,
)
from integration import resilience

DEPENDENCY = "payments-provider"
AUTHORIZATIONS = "/v1/authorizations"
OPERATIONS = "/v1/operations"


class HttpProvider:
    """The provider port over HTTP (the module docstring has the wire format). Thread-safe: it keeps no
    state of its own; the process's client for "payments-provider" is looked up on every call, so a
    settings change (tests) takes effect."""

    @property
    def name(self) -> str:
        return settings.PAYMENTS_HTTP_PROVIDER_NAME

    def authorize(self, *, key: str, amount: Decimal, currency: str, payment_method: str) -> ProviderResult:
        body = {"amount": str(amount), "currency": currency, "payment_method": payment_method}
        return self._write(AUTHORIZATIONS, body, key)

    def capture(self, *, key: str, reference: str, amount: Decimal) -> ProviderResult:
        return self._write(f"{AUTHORIZATIONS}/{_segment(reference)}/capture", {"amount": str(amount)}, key)

    def void(self, *, key: str, reference: str) -> ProviderResult:
        return self._write(f"{AUTHORIZATIONS}/{_segment(reference)}/void", {}, key)

    def refund(self, *, key: str, reference: str, amount: Decimal) -> ProviderResult:
        return self._write(f"{AUTHORIZATIONS}/{_segment(reference)}/refunds", {"amount": str(amount)}, key)

    def lookup(self, *, key: str) -> ProviderResult | None:
        response = self._send(lambda client: client.get(OPERATIONS, params={"key": key}))
        found = _json(response)
        if response.status_code != 200 or not isinstance(found.get("found"), bool):
            raise ProviderUnavailable(f"unexpected lookup answer {response.status_code}", retryable=False)
        if not found["found"]:
            return None
        status, body = found.get("status"), found.get("body")
        if isinstance(status, bool) or not isinstance(status, int) or not isinstance(body, dict):
            raise ProviderUnavailable("unreadable lookup answer", retryable=False)
        return _result(status, body)

    # --- webhooks: parse_webhook goes here, once the port (and the sandbox) have it ------------------

    # --- the wire ------------------------------------------------------------------------------------

    def _write(self, path: str, body: dict[str, Any], key: str) -> ProviderResult:
        _key_check(key)
        response = self._send(lambda client: client.post(path, json=body, idempotency_key=key))
        return _result(response.status_code, _json(response))

    def _send(self, call) -> httpx.Response:
        try:
            return call(resilience.client(DEPENDENCY))
        except resilience.DependencyUnavailable as exc:
            # The client spent the retries allowed (or the breaker refused): not to be retried again.
            raise ProviderUnavailable(exc.detail, retryable=False) from exc


def _key_check(key: str) -> None:
    # An HTTP header carries the key: printable ASCII, as the client requires (and at most 255
    # characters, which <key>:<operation> always is).
    if not (key.isascii() and key.isprintable()):
        raise ValidationError({"key": ["A key for this payment provider is printable ASCII."]})


def _segment(reference: str) -> str:
    # The reference came from the provider: one path segment whatever it holds.
    return quote(reference, safe="")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"unreadable answer {response.status_code}", retryable=False)
    return body


def _result(status: int, body: dict[str, Any]) -> ProviderResult:
    if 200 <= status < 300:
        reference = body.get("id")
        if not isinstance(reference, str) or not reference:
            raise ProviderUnavailable(f"answer {status} without an id", retryable=False)
        return ProviderResult(outcome=APPROVED, reference=reference, amount=_amount(body), raw=body)
    code = body.get("decline_code")
    if 400 <= status < 500 and isinstance(code, str) and code:
        message = body.get("message")
        return ProviderResult(
            outcome=INVALID if status == 422 else DECLINED,
            decline_code=code,
            message=message if isinstance(message, str) else "",
            raw=body,
        )
    raise ProviderUnavailable(f"no decision in answer {status}", retryable=False)


def _amount(body: dict[str, Any]) -> Decimal | None:
    value = body.get("amount")
    if value is None:
        return None
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ProviderUnavailable(f"unreadable amount {value!r}", retryable=False)
    return amount
