"""The payments context's data transfer objects and error types, re-exported by `api` as its public
vocabulary. They live apart from `api` so that services can build and raise them without importing it.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from integration.errors import Conflict, ContextError, Invalid, NotFound, TransientError

# --- DTOs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PaymentData:
    id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    amount: Decimal
    currency: str
    # pending | authorized | captured | partially_refunded | refunded | voided | failed | in_doubt
    status: str
    provider: str
    provider_reference: str
    failure_code: str
    failure_message: str
    captured_amount: Decimal
    refunded_amount: Decimal
    created_at: dt.datetime
    updated_at: dt.datetime
    invoice_number: str = ""  # once captured


@dataclass(frozen=True, kw_only=True)
class InvoiceLineData:
    """One line of an invoice, as given to payment_authorize: `quantity` x `unit_amount` (tax-free, in
    the payment's currency)."""

    description: str
    quantity: int
    unit_amount: Decimal


@dataclass(frozen=True, kw_only=True)
class InvoiceData:
    id: uuid.UUID
    number: str  # "INV-2026-000001": gapless within its year
    payment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    currency: str
    lines: tuple[InvoiceLineData, ...]
    subtotal: Decimal
    total: Decimal  # tax-free: equal to the subtotal
    billing_address: dict[str, str]
    issued_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class RefundData:
    id: uuid.UUID
    payment_id: uuid.UUID
    amount: Decimal
    currency: str
    reason: str
    status: str  # succeeded | failed
    actor: str
    created_at: dt.datetime


# --- errors -----------------------------------------------------------------------------------------


class PaymentsError(ContextError):
    """Root of the payments context's errors; each concrete one is also a kind from integration.errors."""


class PaymentNotFound(PaymentsError, NotFound):
    code = "payment-not-found"
    title = "No such payment."
    payment_id: uuid.UUID | None

    def __init__(self, *, payment_id: uuid.UUID | None):
        super().__init__(f"No payment {payment_id}.", payment_id=payment_id)


class InvoiceNotFound(PaymentsError, NotFound):
    """The payment has no invoice: it was never captured."""

    code = "invoice-not-found"
    title = "This payment has no invoice."
    payment_id: uuid.UUID

    def __init__(self, *, payment_id: uuid.UUID):
        super().__init__(f"Payment {payment_id} has no invoice: it was not captured.", payment_id=payment_id)


class PaymentDeclined(PaymentsError, Conflict):
    """The provider refused the payment (card_declined, insufficient_funds...): retrying with the same
    payment method cannot help."""

    code = "payment-declined"
    title = "The payment was declined."
    payment_id: uuid.UUID
    decline_code: str

    def __init__(self, *, payment_id: uuid.UUID, decline_code: str, message: str = ""):
        super().__init__(
            message or f"The payment was declined ({decline_code}).",
            payment_id=payment_id,
            decline_code=decline_code,
        )


class InvalidPaymentMethod(PaymentsError, Invalid):
    code = "invalid-payment-method"
    title = "The payment method is not one the provider accepts."
    payment_id: uuid.UUID
    decline_code: str

    def __init__(self, *, payment_id: uuid.UUID, message: str = ""):
        super().__init__(
            message or "The payment method is not one the provider accepts.",
            payment_id=payment_id,
            decline_code="invalid_payment_method",
        )


class PaymentKeyConflict(PaymentsError, Conflict):
    """A key was reused for a different request: an idempotency key names exactly one request."""

    code = "payment-key-conflict"
    title = "This key was already used for a different request."
    key: str

    def __init__(self, *, key: str):
        super().__init__(f"Key {key!r} was already used for a different request.", key=key)


class PaymentStateConflict(PaymentsError, Conflict):
    """The payment's status refuses the operation (capturing a voided one, voiding a captured one)."""

    code = "payment-state-conflict"
    title = "The payment's status does not allow this."
    payment_id: uuid.UUID
    current_status: str  # the payment's status when the operation was refused
    operation: str

    def __init__(self, *, payment_id: uuid.UUID, status: str, operation: str):
        super().__init__(
            f"The payment is {status}: no {operation} is possible.",
            payment_id=payment_id,
            current_status=status,
            operation=operation,
        )


class CaptureExceedsAuthorized(PaymentsError, Invalid):
    code = "capture-exceeds-authorized"
    title = "A capture cannot exceed the authorized amount."
    payment_id: uuid.UUID
    authorized: Decimal

    def __init__(self, *, payment_id: uuid.UUID, authorized: Decimal):
        super().__init__(
            f"At most {authorized} can be captured.", payment_id=payment_id, authorized=authorized
        )


class RefundExceedsCaptured(PaymentsError, Conflict):
    code = "refund-exceeds-captured"
    title = "A refund cannot exceed what remains of the captured amount."
    payment_id: uuid.UUID
    remaining: Decimal

    def __init__(self, *, payment_id: uuid.UUID, remaining: Decimal):
        super().__init__(
            f"At most {remaining} remains to be refunded.", payment_id=payment_id, remaining=remaining
        )


class RefundDeclined(PaymentDeclined):
    """The provider refused the refund (e.g. its side holds less captured than ours): nothing was
    refunded; `decline_code` is the provider's reason."""

    code = "refund-declined"
    title = "The provider declined the refund."


class PaymentProviderUnavailable(PaymentsError, TransientError):
    """The provider did not answer (after retries): the outcome of a write is unknown until looked up,
    which the next call with the same key does first."""

    code = "payment-provider-unavailable"
    title = "The payment provider did not answer."
    payment_id: uuid.UUID | None
    operation: str
    reason: str

    def __init__(self, *, payment_id: uuid.UUID | None, operation: str, reason: str):
        super().__init__(
            f"The payment provider did not answer the {operation} ({reason}); retry with the same key.",
            payment_id=payment_id,
            operation=operation,
            reason=reason,
        )
