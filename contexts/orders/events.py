"""Domain events the orders context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
The order saga publishes each in the transaction of the transition it reports; notifications tells the
customer about them.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed:
    """The saga finished: payment captured, stock sold, the order is confirmed. `total` in `currency`."""

    EVENT_TYPE: ClassVar[str] = "orders.OrderConfirmed.v1"

    order_id: uuid.UUID
    user_id: uuid.UUID
    order_number: str
    total: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class OrderCancelled:
    """The order will not be fulfilled; `cancellation_reason` says why, in words a customer can read."""

    EVENT_TYPE: ClassVar[str] = "orders.OrderCancelled.v1"

    order_id: uuid.UUID
    user_id: uuid.UUID
    order_number: str
    total: Decimal
    currency: str
    cancellation_reason: str
