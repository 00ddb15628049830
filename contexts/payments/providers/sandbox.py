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
"""

import secrets
from decimal import Decimal

from django.db import transaction

from contexts.payments.models import SandboxCharge, SandboxOperation
from contexts.payments.providers import (
    APPROVED,
    DECLINED,
    INVALID,
    ProviderResult,
    ProviderUnavailable,
)

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
        operation, _ = SandboxOperation.objects.get_or_create(key=key, defaults={"kind": kind})
        return SandboxOperation.objects.select_for_update().get(pk=operation.pk)

    def authorize(self, *, key: str, amount: Decimal, currency: str, payment_method: str) -> ProviderResult:
        lost = False
        with transaction.atomic():
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
        with transaction.atomic():
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
        with transaction.atomic():
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
        with transaction.atomic():
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
