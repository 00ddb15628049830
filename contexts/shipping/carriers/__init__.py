"""The carrier port: what the shipping services need from a carrier, and the adapter the settings choose
(`SHIPPING_CARRIER`, a dotted path; the in-process sandbox by default).

    create_shipment   buy the label: the carrier's reference, a tracking number, an estimated delivery
    cancel_shipment   void the label before the parcel is handed over
    parse_webhook     read one tracking update from a webhook body (already verified and JSON-parsed)

Every call that changes something carries our idempotency key, `<key>:<operation>`, so a repeated call
cannot buy a second label. An adapter raises CarrierRejected when the carrier refuses (retrying cannot
help: `code` says why, e.g. "address_rejected") and CarrierUnavailable when no usable answer came (the
effect is unknown; repeating the keyed call settles it).
"""

import dataclasses
import datetime as dt
import functools
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from contexts.shipping.lifecycle import TRACKING_STATUSES
from contexts.shipping.models import EVENT_ID_LENGTH, LOCATION_LENGTH, TRACKING_NUMBER_LENGTH

ADDRESS_REJECTED = "address_rejected"  # the carrier's code for an address it cannot deliver to

# A tracking event happened in a window: not before EARLIEST_EVENT (no parcel of ours is older), and
# not later than our clock plus a skew. A carrier's clock, or its handling of time zones, may be hours
# off, so its skew is a day; an operator's entry is held closer (services.CLOCK_SKEW).
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CARRIER_CLOCK_SKEW = dt.timedelta(days=1)


def occurred_at_problem(value: Any, *, skew: dt.timedelta) -> str | None:
    """Why `value` is not when a tracking event can have happened (an aware datetime from
    EARLIEST_EVENT to `skew` past the present), or None if it can."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        return "A date and time with its time zone."
    if not EARLIEST_EVENT <= value <= timezone.now() + skew:
        ahead = f"{skew.days} day(s)" if skew.days else f"{skew.seconds // 60} minute(s)"
        return f"A time from {EARLIEST_EVENT:%Y-%m-%d} to at most {ahead} past the present."
    return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Label:
    reference: str  # the carrier's id of the shipment (what a cancel names)
    tracking_number: str
    estimated_delivery: dt.date | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrackingUpdate:
    event_id: str  # the carrier's id of this scan: a redelivery carries the same one
    tracking_number: str
    status: str  # one of lifecycle.TRACKING_STATUSES
    occurred_at: dt.datetime  # aware
    location: str


class CarrierRejected(Exception):
    """The carrier refused the call: `code` (its reason, e.g. "address_rejected") and `message`."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code
        self.message = message


class CarrierUnavailable(Exception):
    """No usable answer came (timeout, connection lost, carrier error): the call's effect is unknown."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Carrier(Protocol):
    name: str  # also the webhook path: /api/v1/shipping/webhooks/<name>/

    def create_shipment(
        self, *, key: str, address: dict[str, str], lines: list[dict[str, Any]], service_level: str
    ) -> Label: ...

    def cancel_shipment(self, *, key: str, reference: str) -> None: ...

    def parse_webhook(self, data: Any) -> TrackingUpdate:
        """One tracking update from a webhook's JSON body; ValidationError (per field) if malformed."""
        ...


@functools.cache
def _load(path: str) -> Carrier:
    return import_string(path)()


def carrier() -> Carrier:
    """The adapter `settings.SHIPPING_CARRIER` names (one instance per process)."""
    return _load(settings.SHIPPING_CARRIER)


# --- the tracking webhook body both adapters' carriers send -----------------------------------------

# {"id": "<event id>", "tracking_number": "SBX…", "status": "in_transit", "occurred_at": "<ISO 8601>",
#  "location": "<text>"}; location may be absent or empty.
WEBHOOK_TEXT_FIELDS = {
    "id": EVENT_ID_LENGTH,
    "tracking_number": TRACKING_NUMBER_LENGTH,
    "location": LOCATION_LENGTH,
}


def parse_tracking_update(data: Any) -> TrackingUpdate:
    """The body above as a TrackingUpdate. ValidationError naming each bad field: a missing or blank id
    or tracking number, text too long, a status that is not a carrier status, a time without an offset
    or outside the window of occurred_at_problem (a day of clock skew)."""
    if not isinstance(data, dict):
        raise ValidationError("A tracking update is a JSON object.")
    errors: dict[str, list[str]] = {}
    text: dict[str, str] = {}
    for name, limit in WEBHOOK_TEXT_FIELDS.items():
        value = data.get(name, "" if name == "location" else None)
        if not isinstance(value, str) or len(value) > limit or (name != "location" and not value.strip()):
            required = "" if name == "location" else "non-blank "
            errors[name] = [f"A {required}string of at most {limit} characters."]
        text[name] = value
    status = data.get("status")
    if not isinstance(status, str) or status not in TRACKING_STATUSES:
        errors["status"] = [f"One of: {', '.join(TRACKING_STATUSES)}."]
    occurred_at = _aware_datetime(data.get("occurred_at"))
    if occurred_at is None:
        errors["occurred_at"] = ["An ISO 8601 date and time with its UTC offset, e.g. 2025-03-01T09:30:00Z."]
    elif problem := occurred_at_problem(occurred_at, skew=CARRIER_CLOCK_SKEW):
        errors["occurred_at"] = [problem]
    if errors:
        raise ValidationError(errors)
    return TrackingUpdate(
        event_id=text["id"],
        tracking_number=text["tracking_number"],
        status=status,
        occurred_at=occurred_at,
        location=text["location"],
    )


def _aware_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
        # An offset that pushes the instant outside what a datetime can hold is as bad as none.
        return parsed.astimezone(dt.UTC) if parsed is not None and parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None
