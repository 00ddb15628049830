"""Payments reads, and the DTOs the api hands out instead of models."""

import uuid

from contexts.payments.data import PaymentData, PaymentNotFound, RefundData
from contexts.payments.models import Payment, Refund


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
    )


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
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound(payment_id=payment_id)
    return payment


def payments_for_order(*, order_id: uuid.UUID) -> list[Payment]:
    return list(Payment.objects.filter(order_id=order_id).order_by("created_at", "id"))
