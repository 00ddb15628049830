"""Domain events the payments context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
Each is published in the same transaction as the state change it reports.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class PaymentAuthorized:
    EVENT_TYPE: ClassVar[str] = "payments.PaymentAuthorized.v1"

    payment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    amount: Decimal
    currency: str
    provider: str
    provider_reference: str


@dataclass(frozen=True, kw_only=True)
class PaymentFailed:
    """The provider declined the payment, or refused its payment method."""

    EVENT_TYPE: ClassVar[str] = "payments.PaymentFailed.v1"

    payment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    amount: Decimal
    currency: str
    failure_code: str
    failure_message: str


@dataclass(frozen=True, kw_only=True)
class PaymentCaptured:
    EVENT_TYPE: ClassVar[str] = "payments.PaymentCaptured.v1"

    payment_id: uuid.UUID
    order_id: uuid.UUID
    amount: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class PaymentVoided:
    """No authorization of this payment stands at the provider any more (or none ever did)."""

    EVENT_TYPE: ClassVar[str] = "payments.PaymentVoided.v1"

    payment_id: uuid.UUID
    order_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded:
    EVENT_TYPE: ClassVar[str] = "payments.PaymentRefunded.v1"

    payment_id: uuid.UUID
    order_id: uuid.UUID
    refund_id: uuid.UUID
    amount: Decimal
    currency: str
    refunded_total: Decimal
    fully_refunded: bool


@dataclass(frozen=True, kw_only=True)
class InvoiceIssued:
    """A captured payment's invoice was issued: `number` is gapless within its year."""

    EVENT_TYPE: ClassVar[str] = "payments.InvoiceIssued.v1"

    invoice_id: uuid.UUID
    number: str
    payment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    total: Decimal
    currency: str
    issued_at: dt.datetime
