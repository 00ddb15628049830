"""The sandbox provider: an in-process stand-in for a card processor, deterministic by payment-method
token, with its provider-side state in its own tables (so `lookup` works from any process).

    pm_sandbox_ok                    approves
    pm_sandbox_declined              declines with card_declined
    pm_sandbox_insufficient_funds    declines with insufficient_funds
    pm_sandbox_error                 fails transiently, every time, without acting
    pm_sandbox_flaky                 fails transiently twice for a given key, then approves
    pm_sandbox_timeout_after_charge  authorizes, then the answer is lost (a timeout), every time
    anything else                    invalid: invalid_payment_method

Like a real provider it is idempotent by key: a repeated key gets the first answer back and never a
second charge. Its writes share the caller's database transaction, as an in-process fake must; a
transient failure is raised only after they are done, so the caller decides whether they stand.

Its webhooks (POST /api/v1/payments/webhooks/sandbox/, signed with PAYMENTS_WEBHOOK_SECRET) are

    {"id": "evt_...", "type": "payment.captured", "created": <unix seconds>,
     "data": {"reference": "sbx_ch_...", "key": "<payment key>:authorize", "amount": "100.00",
              "currency": "EUR"}}

of the types in WEBHOOK_TYPES; `charge_webhook` builds one about a charge as it stands, `webhook_body`
any other (sign either with integration.webhooks.sign).
"""

import json
import re
import secrets
import time
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from contexts.payments.models import KEY_LENGTH, SandboxCharge, SandboxOperation
from contexts.payments.providers import (
    APPROVED,
    DECLINED,
    EVENT_AUTHORIZED,
    EVENT_CAPTURED,
    EVENT_FAILED,
    EVENT_VOIDED,
    INVALID,
    ProviderEvent,
    ProviderResult,
    ProviderUnavailable,
)
from integration.text import StorableJSONDecoder

OK = "pm_sandbox_ok"
DECLINES = {"pm_sandbox_declined": "card_declined", "pm_sandbox_insufficient_funds": "insufficient_funds"}
ERROR = "pm_sandbox_error"
FLAKY = "pm_sandbox_flaky"
TIMEOUT_AFTER_CHARGE = "pm_sandbox_timeout_after_charge"
FLAKY_FAILURES = 2


def _result(response: dict) -> ProviderResult:
    amount = response.get("amount")
    return ProviderResult(
        outcome=response["outcome"],
        reference=response.get("reference", ""),
        amount=Decimal(amount) if amount is not None else None,
        decline_code=response.get("decline_code", ""),
        message=response.get("message", ""),
        raw=response,
    )


class SandboxProvider:
    name = "sandbox"

    def _operation(self, key: str, kind: str) -> SandboxOperation:
        SandboxOperation.objects.bulk_create([SandboxOperation(key=key, kind=kind)], ignore_conflicts=True)
        return SandboxOperation.objects.select_for_update().get(key=key)

    def authorize(self, *, key: str, amount: Decimal, currency: str, payment_method: str) -> ProviderResult:
        lost = False
        with transaction.atomic(savepoint=False):
            operation = self._operation(key, "authorize")
            if operation.response is None:
                operation.attempts += 1
                operation.response = self._authorize(key, amount, currency, payment_method, operation)
                operation.save(update_fields=["attempts", "response"])
            response = operation.response
            lost = payment_method == TIMEOUT_AFTER_CHARGE
        if response is None:
            raise ProviderUnavailable("provider error")
        if lost:
            raise ProviderUnavailable("timeout")
        return _result(response)

    def _authorize(self, key, amount, currency, payment_method, operation) -> dict | None:
        if payment_method in DECLINES:
            code = DECLINES[payment_method]
            return {"outcome": DECLINED, "decline_code": code, "message": f"The card was declined ({code})."}
        if payment_method == ERROR or (payment_method == FLAKY and operation.attempts <= FLAKY_FAILURES):
            return None
        if payment_method not in (OK, FLAKY, TIMEOUT_AFTER_CHARGE):
            return {
                "outcome": INVALID,
                "decline_code": "invalid_payment_method",
                "message": "Unknown payment method.",
            }
        charge = SandboxCharge.objects.create(
            reference=f"sbx_ch_{secrets.token_hex(8)}",
            key=key,
            amount=amount,
            currency=currency,
            status="authorized",
        )
        return {"outcome": APPROVED, "reference": charge.reference, "amount": str(amount)}

    def capture(self, *, key: str, reference: str, amount: Decimal) -> ProviderResult:
        with transaction.atomic(savepoint=False):
            operation = self._operation(key, "capture")
            if operation.response is None:
                charge = SandboxCharge.objects.select_for_update().filter(reference=reference).first()
                if charge is None or charge.status != "authorized" or amount > charge.amount:
                    response = {"outcome": DECLINED, "decline_code": "charge_not_capturable"}
                else:
                    charge.status, charge.captured_amount = "captured", amount
                    charge.save(update_fields=["status", "captured_amount"])
                    response = {"outcome": APPROVED, "reference": reference, "amount": str(amount)}
                operation.attempts, operation.response = operation.attempts + 1, response
                operation.save(update_fields=["attempts", "response"])
        return _result(operation.response)

    def void(self, *, key: str, reference: str) -> ProviderResult:
        with transaction.atomic(savepoint=False):
            operation = self._operation(key, "void")
            if operation.response is None:
                charge = SandboxCharge.objects.select_for_update().filter(reference=reference).first()
                if charge is not None and charge.status not in ("authorized", "voided"):
                    response = {"outcome": DECLINED, "decline_code": "charge_not_voidable"}
                else:
                    if charge is not None:
                        charge.status = "voided"
                        charge.save(update_fields=["status"])
                    response = {"outcome": APPROVED, "reference": reference}
                operation.attempts, operation.response = operation.attempts + 1, response
                operation.save(update_fields=["attempts", "response"])
        return _result(operation.response)

    def refund(self, *, key: str, reference: str, amount: Decimal) -> ProviderResult:
        with transaction.atomic(savepoint=False):
            operation = self._operation(key, "refund")
            if operation.response is None:
                charge = SandboxCharge.objects.select_for_update().filter(reference=reference).first()
                if charge is None or amount > charge.captured_amount - charge.refunded_amount:
                    response = {"outcome": DECLINED, "decline_code": "refund_exceeds_captured"}
                else:
                    charge.refunded_amount += amount
                    charge.save(update_fields=["refunded_amount"])
                    response = {
                        "outcome": APPROVED,
                        "reference": f"sbx_re_{secrets.token_hex(8)}",
                        "amount": str(amount),
                    }
                operation.attempts, operation.response = operation.attempts + 1, response
                operation.save(update_fields=["attempts", "response"])
        return _result(operation.response)

    def lookup(self, *, key: str) -> ProviderResult | None:
        operation = SandboxOperation.objects.filter(key=key).first()
        if operation is None or operation.response is None:
            return None
        return _result(operation.response)

    # --- webhooks -----------------------------------------------------------------------------------

    def parse_webhook(self, body: bytes) -> ProviderEvent | None:
        """The event of a sandbox webhook body (see WEBHOOK_TYPES), None for a type not listed there.
        Raises ValidationError, naming each wrong field (`id`, `data.amount`...), for a body that is
        not one: not UTF-8 JSON of storable text, not an object, or a field missing or mistyped."""
        try:
            document = json.loads(body.decode("utf-8"), cls=StorableJSONDecoder, parse_constant=_not_json)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ValidationError(f"The webhook body is not JSON the sandbox sends: {exc}") from None
        if not isinstance(document, dict):
            raise ValidationError("The webhook body is not a JSON object.")
        fields = _Fields(document)
        event_id = fields.text("id", max_length=200, required=True)
        event_type = fields.text("type", max_length=100, required=True)
        created = fields.integer("created")
        data = fields.object("data")
        fields.check()
        status = WEBHOOK_TYPES.get(event_type)
        if status is None:
            return None
        charge = _Fields(data, prefix="data.")
        reference = charge.text("reference", max_length=100, required=status != EVENT_FAILED)
        key = charge.text("key", max_length=KEY_LENGTH + 60)
        amount = currency = None
        if status in (EVENT_AUTHORIZED, EVENT_CAPTURED):
            amount = charge.amount("amount")
            currency = charge.text("currency", max_length=3, required=True)
            if currency and not _CURRENCY.fullmatch(currency):
                charge.fail("currency", 'Expected a currency code such as "EUR".')
        failure_code = charge.text("failure_code", max_length=60, required=status == EVENT_FAILED)
        message = charge.text("message", max_length=300)
        if not key and not reference:
            charge.fail("key", "A key or a reference must name the charge.")
        charge.check()
        return ProviderEvent(
            id=event_id,
            type=event_type,
            created=created,
            status=status,
            key=key,
            reference=reference,
            amount=amount,
            currency=currency or "",
            failure_code=failure_code,
            message=message,
        )


# The sandbox's webhook event types and the charge status each reports. Any other type is ignored.
WEBHOOK_TYPES = {
    "payment.authorized": EVENT_AUTHORIZED,
    "payment.captured": EVENT_CAPTURED,
    "payment.voided": EVENT_VOIDED,
    "payment.failed": EVENT_FAILED,
}

_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,6})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CREATED_MAX = 2**63 - 1


def _not_json(name: str):
    raise ValueError(f"{name} is not valid JSON")


class _Fields:
    """Reads typed members of a JSON object, collecting each problem under the member's path."""

    def __init__(self, document: dict[str, Any], prefix: str = ""):
        self.document, self.prefix = document, prefix
        self.errors: dict[str, list[str]] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(self.prefix + name, []).append(message)

    def _get(self, name: str, accepts, expected: str, required: bool = True):
        """The member if `accepts` it; else records why (missing, or not `expected`) and returns None."""
        value = self.document.get(name)
        if value is None:
            if required:
                self.fail(name, "This field is required.")
        elif not accepts(value):
            self.fail(name, f"Expected {expected}.")
        else:
            return value
        return None

    def text(self, name: str, *, max_length: int, required: bool = False) -> str:
        def accepts(v):
            return isinstance(v, str) and 0 < len(v) <= max_length

        return self._get(name, accepts, f"a string of 1-{max_length} characters", required) or ""

    def integer(self, name: str) -> int:
        def accepts(v):  # a bool is an int to Python, not to JSON
            return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _CREATED_MAX

        return self._get(name, accepts, "a whole number of seconds since the epoch") or 0

    def object(self, name: str) -> dict[str, Any]:
        return self._get(name, lambda v: isinstance(v, dict), "an object") or {}

    def amount(self, name: str) -> Decimal | None:
        def accepts(v):
            return isinstance(v, str) and _DECIMAL.fullmatch(v) is not None

        value = self._get(name, accepts, 'a decimal string such as "19.99"')
        return None if value is None else Decimal(value)

    def check(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def webhook_body(
    event_type: str, *, data: dict[str, Any], event_id: str | None = None, created: int | None = None
) -> bytes:
    """A webhook body as the sandbox sends it: a fresh event id and the current time unless given.
    Sign it for the Shop-Signature header with integration.webhooks.sign(body, secret=...)."""
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "type": event_type,
            "created": int(time.time()) if created is None else created,
            "data": data,
        }
    ).encode()


def charge_webhook(
    event_type: str, *, key: str, event_id: str | None = None, created: int | None = None
) -> bytes:
    """The sandbox's webhook about the charge its authorize call `key` ("<payment key>:authorize")
    made, as the charge stands: its reference, key and currency, and for payment.captured the
    captured amount (the whole amount if the sandbox has not captured it), else the amount held.
    Raises SandboxCharge.DoesNotExist when that call charged nothing."""
    charge = SandboxCharge.objects.get(key=key)
    amount = charge.amount
    if event_type == "payment.captured" and charge.captured_amount:
        amount = charge.captured_amount
    data = {
        "reference": charge.reference,
        "key": charge.key,
        "amount": str(amount),
        "currency": charge.currency,
    }
    return webhook_body(event_type, data=data, event_id=event_id, created=created)
