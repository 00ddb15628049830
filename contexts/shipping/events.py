"""Domain events the shipping context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class ShipmentInTransit:
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentInTransit.v1"

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    carrier: str
    tracking_number: str
    occurred_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class ShipmentOutForDelivery:
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentOutForDelivery.v1"

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    carrier: str
    tracking_number: str
    occurred_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class ShipmentDelivered:
    EVENT_TYPE: ClassVar[str] = "shipping.ShipmentDelivered.v1"

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    carrier: str
    tracking_number: str
    occurred_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class DeliveryFailed:
    EVENT_TYPE: ClassVar[str] = "shipping.DeliveryFailed.v1"

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    carrier: str
    tracking_number: str
    occurred_at: dt.datetime
