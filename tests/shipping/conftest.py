"""Shipping test helpers: a shipment's worth of create arguments, and carrier webhooks signed as a
carrier signs them."""

import datetime as dt
import json
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contexts.shipping import api
from integration import webhooks
from integration.bus.models import OutboxMessage

ORDER_ID = uuid.UUID("00000000-0000-4000-8000-00000000c001")
USER_ID = uuid.UUID("00000000-0000-4000-8000-00000000d001")
ADDRESS = api.AddressData(
    full_name="Ada Lovelace",
    line1="12 St James's Square",
    city="London",
    postal_code="SW1Y 4JH",
    country="GB",
    phone="+442071234567",
)
LINES = (api.ShipmentLineData(sku="MUG-1", quantity=2), api.ShipmentLineData(sku="TEA-1", quantity=1))
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
WEBHOOK = "/api/v1/shipping/webhooks/sandbox/"


def create(key: str = "saga-1:ship", **kw) -> api.ShipmentData:
    return api.shipment_create(
        key=key,
        order_id=kw.pop("order_id", ORDER_ID),
        user_id=kw.pop("user_id", USER_ID),
        address=kw.pop("address", ADDRESS),
        lines=kw.pop("lines", LINES),
        **kw,
    )


def update(tracking_number: str, event_id: str, status: str, hours: float, location: str = "") -> dict:
    """A sandbox carrier's tracking update `hours` after T0."""
    return {
        "id": event_id,
        "tracking_number": tracking_number,
        "status": status,
        "occurred_at": (T0 + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        "location": location,
    }


def deliver(body: dict | bytes, *, secret: str | None = None, timestamp: int | None = None, path=WEBHOOK):
    """POST a webhook signed with SHIPPING_WEBHOOK_SECRET (or `secret`), as the carrier does."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = webhooks.sign(raw, secret=secret or settings.SHIPPING_WEBHOOK_SECRET, timestamp=timestamp)
    return APIClient().post(path, raw, content_type="application/json", HTTP_SHOP_SIGNATURE=header)


def published(event_type: str) -> list[dict]:
    return [m.payload for m in OutboxMessage.objects.filter(type=event_type).order_by("created_at")]


@pytest.fixture
def shipment(db) -> api.ShipmentData:
    return create()
