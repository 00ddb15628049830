"""Shipping reads, and the DTOs the api hands out instead of models."""

import uuid

from django.db.models import QuerySet

from contexts.shipping.data import (
    AddressData,
    ShipmentData,
    ShipmentLineData,
    ShipmentNotFound,
    TrackingEventData,
)
from contexts.shipping.models import Shipment
from integration.arguments import id_check


def _with_details() -> QuerySet[Shipment]:
    # Lines and the timeline in two queries for any number of shipments (the models' orderings apply).
    return Shipment.objects.prefetch_related("lines", "events")


def shipment_data(shipment: Shipment) -> ShipmentData:
    """The DTO of a shipment loaded through this module (lines and events prefetched)."""
    return ShipmentData(
        id=shipment.id,
        order_id=shipment.order_id,
        user_id=shipment.user_id,
        status=shipment.status,
        carrier=shipment.carrier,
        service_level=shipment.service_level,
        tracking_number=shipment.tracking_number,
        estimated_delivery=shipment.estimated_delivery,
        address=AddressData(**shipment.address),
        lines=tuple(ShipmentLineData(sku=line.sku, quantity=line.quantity) for line in shipment.lines.all()),
        tracking_events=tuple(
            TrackingEventData(
                status=event.status,
                location=event.location,
                occurred_at=event.occurred_at,
                carrier_event_id=event.event_id,
                source=event.source,
            )
            for event in shipment.events.all()
        ),
        created_at=shipment.created_at,
        updated_at=shipment.updated_at,
    )


def shipment_get(*, shipment_id: uuid.UUID) -> Shipment:
    id_check(shipment_id=shipment_id)
    shipment = _with_details().filter(pk=shipment_id).first()
    if shipment is None:
        raise ShipmentNotFound(shipment_id=shipment_id)
    return shipment


def shipment_of_user(*, shipment_id: str, user_id: uuid.UUID) -> Shipment:
    """A customer's own shipment by its id as the URL gives it: another's, or an id that is no UUID at
    all, is ShipmentNotFound (a 404 either way, so ids cannot be probed)."""
    try:
        pk = uuid.UUID(shipment_id)
    except ValueError:
        raise ShipmentNotFound(shipment_id=None) from None
    shipment = _with_details().filter(pk=pk, user_id=user_id).first()
    if shipment is None:
        raise ShipmentNotFound(shipment_id=pk)
    return shipment


def shipments_of_user(*, user_id: uuid.UUID, order_id: uuid.UUID | None = None) -> QuerySet[Shipment]:
    """A customer's shipments, newest first (optionally one order's)."""
    shipments = _with_details().filter(user_id=user_id)
    if order_id is not None:
        shipments = shipments.filter(order_id=order_id)
    return shipments.order_by("-created_at", "-id")


def shipments_for_order(*, order_id: uuid.UUID) -> list[Shipment]:
    id_check(order_id=order_id)
    return list(_with_details().filter(order_id=order_id).order_by("created_at", "id"))
