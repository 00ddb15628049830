"""The shipping context's data transfer objects and error types, re-exported by `api` as its public
vocabulary. They live apart from `api` so that services can build and raise them without importing it.
"""

import datetime as dt
import uuid
from dataclasses import dataclass

from integration.errors import Conflict, ContextError, Invalid, NotFound, TransientError

# --- DTOs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AddressData:
    """Where a parcel goes: the users context's address shape, so an order's snapshot of the customer's
    address passes through as it is. `country` is ISO 3166-1 alpha-2; `phone` E.164 (the carrier's
    driver may call it)."""

    full_name: str
    line1: str
    line2: str = ""
    city: str
    region: str = ""
    postal_code: str
    country: str
    phone: str = ""


@dataclass(frozen=True, kw_only=True)
class ShipmentLineData:
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class TrackingEventData:
    status: str  # in_transit | out_for_delivery | failed_delivery | delivered | returned
    location: str
    occurred_at: dt.datetime
    carrier_event_id: str
    source: str  # carrier | staff


@dataclass(frozen=True, kw_only=True)
class ShipmentData:
    id: uuid.UUID
    order_id: uuid.UUID
    user_id: uuid.UUID
    # created | label_purchased | in_transit | out_for_delivery | delivered | failed_delivery | returned
    # | cancelled
    status: str
    carrier: str
    service_level: str  # standard | express
    tracking_number: str  # empty until the label is bought
    estimated_delivery: dt.date | None
    address: AddressData
    lines: tuple[ShipmentLineData, ...]
    tracking_events: tuple[TrackingEventData, ...]  # the timeline, by when each happened
    created_at: dt.datetime
    updated_at: dt.datetime


# --- errors -----------------------------------------------------------------------------------------


class ShippingError(ContextError):
    """Root of the shipping context's errors; each concrete one is also a kind from integration.errors."""


class ShipmentNotFound(ShippingError, NotFound):
    code = "shipment-not-found"
    title = "No such shipment."
    shipment_id: uuid.UUID | None

    def __init__(self, *, shipment_id: uuid.UUID | None):
        # None: the id asked for is no UUID at all, so it names no shipment either.
        detail = f"No shipment {shipment_id}." if shipment_id is not None else "No shipment has this id."
        super().__init__(detail, shipment_id=shipment_id)


class ShipmentKeyConflict(ShippingError, Conflict):
    """A key was reused for a different request: an idempotency key names exactly one request."""

    code = "shipment-key-conflict"
    title = "This key was already used for a different request."
    key: str

    def __init__(self, *, key: str):
        super().__init__(f"Key {key!r} was already used for a different request.", key=key)


class ShipmentRejected(ShippingError, Invalid):
    """The carrier refused to ship it (`carrier_code` says why, in the carrier's words): retrying the
    same request cannot help."""

    code = "shipment-rejected"
    title = "The carrier refused the shipment."
    carrier: str
    carrier_code: str

    def __init__(self, *, carrier: str, carrier_code: str, message: str = ""):
        super().__init__(
            message or f"The carrier refused the shipment ({carrier_code}).",
            carrier=carrier,
            carrier_code=carrier_code,
        )


class AddressRejected(ShipmentRejected):
    """The carrier cannot deliver to this address (`carrier_code` "address_rejected"); the sandbox carrier
    says so for the postal code 00000."""

    code = "address-rejected"
    title = "The carrier cannot deliver to this address."


class ShipmentTransitionRefused(ShippingError, Conflict):
    """The shipment's status does not allow the change asked for (contexts.shipping.lifecycle)."""

    code = "shipment-transition-refused"
    title = "The shipment's status does not allow this change."
    shipment_id: uuid.UUID
    current_status: str  # the shipment's status when the change was refused
    requested: str

    def __init__(self, *, shipment_id: uuid.UUID, status: str, requested: str, message: str = ""):
        super().__init__(
            message or f"The shipment is {status}: it cannot become {requested}.",
            shipment_id=shipment_id,
            current_status=status,
            requested=requested,
        )


class ShipmentNotCancellable(ShipmentTransitionRefused):
    """Too late to cancel: the parcel is with the carrier (in transit or later), or already delivered."""

    code = "shipment-not-cancellable"
    title = "The shipment can no longer be cancelled."


class ShippingCarrierUnavailable(ShippingError, TransientError):
    """The carrier did not answer (after the resilient client's retries). Retry with the same key: the
    carrier call is keyed, so it cannot act twice. A shipment whose label purchase went unanswered stays
    `created` until then."""

    code = "shipping-carrier-unavailable"
    title = "The carrier did not answer."
    shipment_id: uuid.UUID | None
    operation: str
    reason: str

    def __init__(self, *, shipment_id: uuid.UUID | None, operation: str, reason: str):
        super().__init__(
            f"The carrier did not answer the {operation} ({reason}); retry with the same key.",
            shipment_id=shipment_id,
            operation=operation,
            reason=reason,
        )
