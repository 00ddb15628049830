"""The payments context's service interface: the only door other contexts may use besides its events.

Every function is an operation of the service interface (integration.services). Each command is
idempotent by `key`: calling again with the same key returns the same result without another provider
call, a decline included (raised again). Errors are the payments context's own: business ones
(PaymentDeclined, InvalidPaymentMethod, PaymentStateConflict, RefundExceedsCaptured...) mean compensate;
PaymentProviderUnavailable is transient and means retry with the same key, which first asks the
provider what the unanswered call did.
"""

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal

from contexts.payments import selectors as _selectors
from contexts.payments import services as _services
from contexts.payments.data import (
    CaptureExceedsAuthorized,
    InvalidPaymentMethod,
    InvoiceData,
    InvoiceLineData,
    InvoiceNotFound,
    PaymentData,
    PaymentDeclined,
    PaymentKeyConflict,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentsError,
    PaymentStateConflict,
    RefundData,
    RefundDeclined,
    RefundExceedsCaptured,
)
from integration import services as interface

__all__ = [
    "CaptureExceedsAuthorized",
    "InvalidPaymentMethod",
    "InvoiceData",
    "InvoiceLineData",
    "InvoiceNotFound",
    "PaymentData",
    "PaymentDeclined",
    "PaymentKeyConflict",
    "PaymentNotFound",
    "PaymentProviderUnavailable",
    "PaymentStateConflict",
    "PaymentsError",
    "RefundData",
    "RefundDeclined",
    "RefundExceedsCaptured",
    "payment_authorize",
    "payment_capture",
    "payment_get",
    "payment_invoice",
    "payment_refund",
    "payment_void",
    "payments_for_order",
]


@interface.operation("payments")
def payment_authorize(
    *,
    key: str,
    order_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: Decimal,
    currency: str,
    payment_method: str,
    invoice_lines: Sequence[InvoiceLineData] = (),
    billing_address: Mapping[str, str] | None = None,
) -> PaymentData:
    """Authorize `amount` (a Decimal in `currency`, ISO 4217) on `payment_method` (a provider token)
    under `key` (e.g. "<saga_id>:authorize"). `invoice_lines` (adding up to `amount`) and
    `billing_address` are what the invoice issued at capture will say; without lines it has one line
    for the order. PaymentDeclined carries the decline code; InvalidPaymentMethod an unknown token;
    PaymentProviderUnavailable (transient) leaves the payment in doubt until looked up."""
    return _selectors.payment_data(
        _services.payment_authorize(
            key=key,
            order_id=order_id,
            user_id=user_id,
            amount=amount,
            currency=currency,
            payment_method=payment_method,
            invoice_lines=invoice_lines,
            billing_address=billing_address,
        )
    )


@interface.operation("payments")
def payment_capture(*, key: str, payment_id: uuid.UUID, amount: Decimal | None = None) -> PaymentData:
    """Capture an authorized payment: all of it (`amount=None`) or part. A voided one cannot be."""
    return _selectors.payment_data(_services.payment_capture(key=key, payment_id=payment_id, amount=amount))


@interface.operation("payments")
def payment_void(
    *, key: str, payment_id: uuid.UUID | None = None, order_id: uuid.UUID | None = None
) -> tuple[PaymentData, ...]:
    """Void a payment, or by order every payment of it not yet captured (a saga's compensation when the
    authorize's answer never came: what the provider did is looked up first). Returns those payments."""
    payments = _services.payment_void(key=key, payment_id=payment_id, order_id=order_id)
    return tuple(_selectors.payment_data(p) for p in payments)


@interface.operation("payments")
def payment_refund(
    *, key: str, payment_id: uuid.UUID, amount: Decimal, reason: str, actor: str = ""
) -> RefundData:
    """Refund part or the rest of a captured payment. RefundExceedsCaptured carries what remains."""
    refund = _services.payment_refund(
        key=key, payment_id=payment_id, amount=amount, reason=reason, actor=actor
    )
    return _selectors.refund_data(refund)


@interface.operation("payments", read=True)
def payment_get(*, payment_id: uuid.UUID) -> PaymentData:
    """A payment. PaymentNotFound if there is none with this id."""
    return _selectors.payment_data(_selectors.payment_get(payment_id=payment_id))


@interface.operation("payments", read=True)
def payments_for_order(*, order_id: uuid.UUID) -> tuple[PaymentData, ...]:
    """An order's payments, oldest first."""
    return tuple(_selectors.payment_data(p) for p in _selectors.payments_for_order(order_id=order_id))


@interface.operation("payments", read=True)
def payment_invoice(*, payment_id: uuid.UUID) -> InvoiceData:
    """The invoice issued when the payment was captured. InvoiceNotFound before capture;
    PaymentNotFound if there is no such payment."""
    return _selectors.invoice_data(_selectors.invoice_for_payment(payment_id=payment_id))
