"""Domain events the shipping context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
Each is published in the same transaction as the status change it reports, and carries the order and
the user it concerns, so a consumer (notifications, orders) needs no lookup to act on it.

A milestone event (in transit, out for delivery, delivered, delivery failed, returned) is published
once, when the shipment's status first reaches it. Carriers skip scans and deliver their updates out of
order: a shipment may go from `label_purchased` straight to `delivered`, and then only
ShipmentDelivered is published; a late scan of an earlier milestone publishes nothing.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class ShipmentCreated:
    """The carrier bought the label: the shipment has a tracking number customers can follow."""

    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentCreated.v1"

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    carrier: str
    service_level: str
    tracking_number: str
    estimated_delivery: dt.date | None


@dataclass(frozen=True, kw_only=True)
class ShipmentCancelled:
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentCancelled.v1"

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class TrackingMilestone:
    """What every milestone event carries: the tracking event that moved the shipment's status."""

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    carrier: str
    tracking_number: str
    location: str  # as the carrier wrote it; may be empty
    occurred_at: dt.datetime  # when the carrier scanned it (not when we heard of it)


@dataclass(frozen=True, kw_only=True)
class ShipmentInTransit(TrackingMilestone):
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentInTransit.v1"


@dataclass(frozen=True, kw_only=True)
class ShipmentOutForDelivery(TrackingMilestone):
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentOutForDelivery.v1"


@dataclass(frozen=True, kw_only=True)
class ShipmentDelivered(TrackingMilestone):
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentDelivered.v1"


@dataclass(frozen=True, kw_only=True)
class DeliveryFailed(TrackingMilestone):
    """A delivery attempt failed (nobody home, address not found): the carrier tries again or returns it."""

    EVENT_TYPE: ClassVar[str] = "shipping.DeliveryFailed.v1"


@dataclass(frozen=True, kw_only=True)
class ShipmentReturned(TrackingMilestone):
    """The parcel went back to the sender (refused, undeliverable, or not collected)."""

    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentReturned.v1"
