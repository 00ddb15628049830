"""The orders context's subscriptions: shipping's reports move a confirmed order on. Thin and
idempotent: the order's status guards each move, so a repeat or a late report changes nothing."""

from contexts.orders.services import orders
from contexts.shipping import events as shipping


def on_shipment_in_transit(event: shipping.ShipmentInTransit, envelope) -> None:
    orders.order_mark_shipped(order_id=event.order_id, shipment_id=event.shipment_id)


def on_shipment_delivered(event: shipping.ShipmentDelivered, envelope) -> None:
    orders.order_mark_delivered(order_id=event.order_id, shipment_id=event.shipment_id)


SUBSCRIPTIONS = {
    shipping.ShipmentInTransit: [on_shipment_in_transit],
    shipping.ShipmentDelivered: [on_shipment_delivered],
}
