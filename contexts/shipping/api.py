"""The shipping context's service interface: the only door other contexts may use besides its events.

Every function is an operation of the service interface (integration.services). Create and cancel are
idempotent by `key`: calling again with the same key returns the same shipment without a second carrier
call, and a carrier's refusal is raised again (it is kept under the key, so the key goes on naming that
request: another request under it is a ShipmentKeyConflict). Errors are the shipping context's own:
business ones (AddressRejected, ShipmentRejected, ShipmentNotCancellable, ShipmentKeyConflict,
ShipmentNotFound) mean compensate or tell the customer; ShippingCarrierUnavailable is transient and
means retry with the same key. Invalid arguments (an address without a postal code, no lines, an id
that is no UUID, a dict where a DTO is due) are Django's ValidationError naming the field.
"""

import uuid

from contexts.shipping import selectors as _selectors
from contexts.shipping import services as _services
from contexts.shipping.data import (
    AddressData,
    AddressRejected,
    ShipmentData,
    ShipmentKeyConflict,
    ShipmentLineData,
    ShipmentNotCancellable,
    ShipmentNotFound,
    ShipmentRejected,
    ShipmentTransitionRefused,
    ShippingCarrierUnavailable,
    ShippingError,
    TrackingEventData,
)
from integration import services as interface

__all__ = [
    "AddressData",
    "AddressRejected",
    "ShipmentData",
    "ShipmentKeyConflict",
    "ShipmentLineData",
    "ShipmentNotCancellable",
    "ShipmentNotFound",
    "ShipmentRejected",
    "ShipmentTransitionRefused",
    "ShippingCarrierUnavailable",
    "ShippingError",
    "TrackingEventData",
    "shipment_cancel",
    "shipment_create",
    "shipment_get",
    "shipments_for_order",
]


@interface.operation("shipping")
def shipment_create(
    *,
    key: str,
    order_id: uuid.UUID,
    user_id: uuid.UUID,
    address: AddressData,
    lines: tuple[ShipmentLineData, ...],
    service_level: str = "standard",
) -> ShipmentData:
    """Create the shipment of `lines` to `address` under `key` (e.g. "<saga_id>:ship") and buy its label:
    status `label_purchased`, with a tracking number and an estimated delivery. `service_level` is
    "standard" or "express". AddressRejected when the carrier cannot deliver there (the sandbox: postal
    code 00000): the refusal is kept under the key, so the same request is refused again and another
    one under the key is a ShipmentKeyConflict. ShippingCarrierUnavailable leaves the shipment
    `created` until a retry with the key. ValidationError (naming the field) for an argument of the
    wrong type or shape: ids are UUIDs, `address` an AddressData, `lines` 1-500 ShipmentLineData."""
    shipment = _services.shipment_create(
        key=key,
        order_id=order_id,
        user_id=user_id,
        address=address,
        lines=lines,
        service_level=service_level,
    )
    return _selectors.shipment_data(_selectors.shipment_get(shipment_id=shipment.id))


@interface.operation("shipping")
def shipment_cancel(*, key: str, shipment_id: uuid.UUID) -> ShipmentData:
    """Cancel a shipment before the carrier has it (a saga's compensation), voiding its label; a no-op
    for one already cancelled. ShipmentNotCancellable once it is `in_transit` or later."""
    shipment = _services.shipment_cancel(key=key, shipment_id=shipment_id)
    return _selectors.shipment_data(_selectors.shipment_get(shipment_id=shipment.id))


@interface.operation("shipping", read=True)
def shipment_get(*, shipment_id: uuid.UUID) -> ShipmentData:
    """A shipment with its lines and tracking timeline. ShipmentNotFound if there is none with this id."""
    return _selectors.shipment_data(_selectors.shipment_get(shipment_id=shipment_id))


@interface.operation("shipping", read=True)
def shipments_for_order(*, order_id: uuid.UUID) -> tuple[ShipmentData, ...]:
    """An order's shipments, oldest first (none: an empty tuple)."""
    return tuple(_selectors.shipment_data(s) for s in _selectors.shipments_for_order(order_id=order_id))
