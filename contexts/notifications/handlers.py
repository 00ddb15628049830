"""What notifications tells people, and when: one handler per event it subscribes to, in one map.

Each handler names the recipient and the message's category, and leaves the rest (preferences,
channels, quiet hours, templates, the log) to services.notify. Contact details come through
contexts.users.api; handlers run once per event (the bus's inbox), and the log's unique
(event, channel, recipient) holds even if one ran twice.
"""

import uuid

from contexts.notifications import services
from contexts.notifications.models import Category
from contexts.orders import events as orders
from contexts.payments import api as payments
from contexts.payments import events as payments_events
from contexts.shipping import events as shipping
from contexts.users import events as users


def _notify(event, envelope, *, user_id: uuid.UUID, category: str) -> None:
    services.notify(
        event=event, event_id=envelope.id, event_type=envelope.type, user_id=user_id, category=category
    )


# --- users ----------------------------------------------------------------------------------------


def on_user_registered(event: users.UserRegistered, envelope) -> None:
    """The welcome message."""
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


def on_password_changed(event: users.PasswordChanged, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.SECURITY)


def on_logged_out_everywhere(event: users.LoggedOutEverywhere, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.SECURITY)


# --- orders ---------------------------------------------------------------------------------------


def on_order_confirmed(event: orders.OrderConfirmed, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


def on_order_cancelled(event: orders.OrderCancelled, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


# --- shipping -------------------------------------------------------------------------------------


def on_shipment_in_transit(event: shipping.ShipmentInTransit, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


def on_shipment_out_for_delivery(event: shipping.ShipmentOutForDelivery, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


def on_shipment_delivered(event: shipping.ShipmentDelivered, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


def on_delivery_failed(event: shipping.DeliveryFailed, envelope) -> None:
    _notify(event, envelope, user_id=event.user_id, category=Category.TRANSACTIONAL)


# --- payments -------------------------------------------------------------------------------------


def on_payment_refunded(event: payments_events.PaymentRefunded, envelope) -> None:
    """The refund's payer, from payments.api (the event names the payment, not the customer)."""
    try:
        payment = payments.payment_get(payment_id=event.payment_id)
    except payments.PaymentNotFound:
        return
    _notify(event, envelope, user_id=payment.user_id, category=Category.TRANSACTIONAL)


SUBSCRIPTIONS = {
    users.UserRegistered: [on_user_registered],
    users.PasswordChanged: [on_password_changed],
    users.LoggedOutEverywhere: [on_logged_out_everywhere],
    orders.OrderConfirmed: [on_order_confirmed],
    orders.OrderCancelled: [on_order_cancelled],
    shipping.ShipmentInTransit: [on_shipment_in_transit],
    shipping.ShipmentOutForDelivery: [on_shipment_out_for_delivery],
    shipping.ShipmentDelivered: [on_shipment_delivered],
    shipping.DeliveryFailed: [on_delivery_failed],
    payments_events.PaymentRefunded: [on_payment_refunded],
}
