"""Payments reads, and the DTOs the api hands out instead of models."""

import uuid
from decimal import Decimal

from django.db.models import Prefetch

from contexts.payments.data import (
    InvoiceData,
    InvoiceLineData,
    InvoiceNotFound,
    PaymentData,
    PaymentNotFound,
    RefundData,
)
from contexts.payments.models import CAPTURED_STATUSES, Invoice, Payment, Refund


def payment_data(payment: Payment) -> PaymentData:
    return PaymentData(
        id=payment.id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        amount=payment.amount,
        currency=payment.currency,
        status=payment.status,
        provider=payment.provider,
        provider_reference=payment.provider_reference,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
        captured_amount=payment.captured_amount,
        refunded_amount=payment.refunded_amount,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        invoice_number=invoice_number(payment),
    )


def invoice_number(payment: Payment) -> str:
    """The payment's invoice number, "" before capture (one query unless `invoice` was selected)."""
    if payment.status not in CAPTURED_STATUSES:
        return ""
    try:
        return payment.invoice.number
    except Invoice.DoesNotExist:
        return ""


def invoice_data(invoice: Invoice) -> InvoiceData:
    return InvoiceData(
        id=invoice.id,
        number=invoice.number,
        payment_id=invoice.payment_id,
        order_id=invoice.order_id,
        user_id=invoice.user_id,
        currency=invoice.currency,
        lines=tuple(
            InvoiceLineData(
                description=line["description"],
                quantity=line["quantity"],
                unit_amount=Decimal(line["unit_amount"]),
            )
            for line in invoice.lines
        ),
        subtotal=invoice.subtotal,
        total=invoice.total,
        billing_address=dict(invoice.billing_address),
        issued_at=invoice.issued_at,
    )


def invoice_for_payment(*, payment_id: uuid.UUID) -> Invoice:
    invoice = Invoice.objects.filter(payment_id=payment_id).first()
    if invoice is None:
        payment_get(payment_id=payment_id)  # PaymentNotFound first, if there is no payment at all
        raise InvoiceNotFound(payment_id=payment_id)
    return invoice


def refund_data(refund: Refund) -> RefundData:
    return RefundData(
        id=refund.id,
        payment_id=refund.payment_id,
        amount=refund.amount,
        currency=refund.payment.currency,
        reason=refund.reason,
        status=refund.status,
        actor=refund.actor,
        created_at=refund.created_at,
    )


def payment_get(*, payment_id: uuid.UUID) -> Payment:
    payment = Payment.objects.select_related("invoice").filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound(payment_id=payment_id)
    return payment


def payments_for_order(*, order_id: uuid.UUID) -> list[Payment]:
    return list(
        Payment.objects.filter(order_id=order_id).select_related("invoice").order_by("created_at", "id")
    )


def payments_visible(
    *, user_id: uuid.UUID | None, status: str | None = None, order_id: uuid.UUID | None = None
):
    """Payments a caller may see, newest first, with their refunds and invoice: the caller's own, or
    everyone's for `user_id=None` (staff). Optional filters by status and order."""
    payments = Payment.objects.select_related("invoice").prefetch_related(
        Prefetch("refunds", queryset=Refund.objects.select_related("payment").order_by("created_at", "id"))
    )
    if user_id is not None:
        payments = payments.filter(user_id=user_id)
    if status is not None:
        payments = payments.filter(status=status)
    if order_id is not None:
        payments = payments.filter(order_id=order_id)
    return payments.order_by("-created_at", "-id")


def payment_visible(*, payment_id: uuid.UUID, user_id: uuid.UUID | None) -> Payment:
    """One payment the caller may see (PaymentNotFound for another user's: its existence is not told)."""
    payment = payments_visible(user_id=user_id).filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound(payment_id=payment_id)
    return payment


def invoice_visible(*, payment_id: uuid.UUID, user_id: uuid.UUID | None) -> Invoice:
    payment_visible(payment_id=payment_id, user_id=user_id)
    return invoice_for_payment(payment_id=payment_id)
