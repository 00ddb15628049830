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


@dataclass(frozen=True, kw_only=True)
class OrderLineData:
    """One line of an order: `quantity` units of `sku` at `unit_price` (in the order's currency)."""

    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderPlaced:
    """A checkout was accepted: the order is pending and its saga has started."""

    EVENT_TYPE: ClassVar[str] = "orders.OrderPlaced.v1"

    order_id: uuid.UUID
    user_id: uuid.UUID
    order_number: str
    total: Decimal
    currency: str
    lines: tuple[OrderLineData, ...]


@dataclass(frozen=True, kw_only=True)
class OrderShipped:
    """The carrier has the parcel (shipping reported it in transit)."""

    EVENT_TYPE: ClassVar[str] = "orders.OrderShipped.v1"

    order_id: uuid.UUID
    user_id: uuid.UUID
    order_number: str
    shipment_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class OrderDelivered:
    """The carrier delivered the parcel."""

    EVENT_TYPE: ClassVar[str] = "orders.OrderDelivered.v1"

    order_id: uuid.UUID
    user_id: uuid.UUID
    order_number: str
    shipment_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class OrderNeedsAttention:
    """A compensation kept failing: an operator must finish the order by hand (see the admin)."""

    EVENT_TYPE: ClassVar[str] = "orders.OrderNeedsAttention.v1"

    order_id: uuid.UUID
    user_id: uuid.UUID
    order_number: str
    saga_id: uuid.UUID
    step: str
    error: str
