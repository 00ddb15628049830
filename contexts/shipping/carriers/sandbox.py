"""The sandbox carrier: an in-process stand-in, deterministic by input, for storefront developers and
tests. Its carrier name is `sandbox` (webhooks at /api/v1/shipping/webhooks/sandbox/).

    postal_code "00000"   the address is rejected: CarrierRejected("address_rejected")
    anything else         a label: tracking number "SBX" + 12 digits, delivery in 5 days (standard)
                          or 2 (express) from today

Like a real carrier it is idempotent by key, and statelessly so: the reference and the tracking
number are derived from the key, so a repeated key gets the same label back, never a second one.
Cancelling always succeeds (a real carrier refuses once the parcel is handed over; the services refuse
that themselves from the shipment's status). Tracking updates are sent to it by whoever plays the
carrier, signed with SHIPPING_WEBHOOK_SECRET, in the body parse_tracking_update reads.
"""

import datetime as dt
import hashlib
from typing import Any

from django.utils import timezone

from contexts.shipping.carriers import (
    ADDRESS_REJECTED,
    CarrierRejected,
    Label,
    TrackingUpdate,
    parse_tracking_update,
)

REJECTED_POSTAL_CODE = "00000"
TRANSIT_DAYS = {"standard": 5, "express": 2}


class SandboxCarrier:
    name = "sandbox"

    def create_shipment(
        self, *, key: str, address: dict[str, str], lines: list[dict[str, Any]], service_level: str
    ) -> Label:
        if address.get("postal_code", "").strip() == REJECTED_POSTAL_CODE:
            raise CarrierRejected(ADDRESS_REJECTED, "The carrier does not deliver to postal code 00000.")
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return Label(
            reference=f"sbx_shp_{digest[:24]}",
            tracking_number=f"SBX{int(digest, 16) % 10**12:012d}",
            estimated_delivery=timezone.now().date() + dt.timedelta(days=TRANSIT_DAYS[service_level]),
        )

    def cancel_shipment(self, *, key: str, reference: str) -> None:
        return None

    def parse_webhook(self, data: Any) -> TrackingUpdate:
        return parse_tracking_update(data)
