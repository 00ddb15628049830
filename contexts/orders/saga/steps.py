"""The order saga's actions and compensations: one participant call (or two) each, keyed
`<saga_id>:<step>`, so running one again — a retry, a redelivery, a duplicate — cannot act twice.

An action returns what later steps need (the reservation key, the payment and shipment ids), which the
engine stores with the saga. A compensation is idempotent and succeeds when there is nothing to undo.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contexts.catalog.api import (
    ReservationCommitted,
    ReservationExpired,
    ReservationNotFound,
    StockLine,
)
from contexts.orders.saga import participants
from contexts.orders.saga.engine import StepContext, StepFailed, orders_setting
from contexts.payments.api import InvoiceLineData, PaymentProviderUnavailable
from contexts.shipping.api import AddressData, ShipmentLineData


@dataclass(frozen=True)
class LineSnapshot:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderSnapshot:
    id: uuid.UUID
    number: str
    user_id: uuid.UUID
    total: Decimal
    currency: str
    payment_method: str
    shipping_address: dict[str, str]
    lines: tuple[LineSnapshot, ...]


def order_snapshot(order) -> OrderSnapshot:
    return OrderSnapshot(
        id=order.id,
        number=order.number,
        user_id=order.user_id,
        total=order.total,
        currency=order.currency,
        payment_method=order.payment_method,
        shipping_address=dict(order.shipping_address),
        lines=tuple(
            LineSnapshot(sku=line.sku, name=line.name, quantity=line.quantity, unit_price=line.unit_price)
            for line in order.lines.all()
        ),
    )


def reservation_ttl() -> int:
    """Seconds a reservation is held: from the reserve, and again from each attempt of the authorize
    (extended while payment is in progress, so the stock cannot lapse under a slow card). The default
    (15 minutes) outlasts the deadlines of the steps after it."""
    return int(orders_setting("RESERVATION_TTL_SECONDS") or 900)


def _reservation_key(ctx: StepContext) -> str:
    return ctx.data.get("reservation_key") or ctx.key("reserve")


def _reservation_gone(exc: Exception) -> StepFailed:
    return StepFailed(f"The stock reservation lapsed: {exc}", reason="timeout")


def _extend_reservation(ctx: StepContext) -> None:
    try:
        participants.catalog.stock_extend(key=_reservation_key(ctx), ttl=reservation_ttl())
    except (ReservationExpired, ReservationNotFound) as exc:
        raise _reservation_gone(exc) from exc


# --- reserve -----------------------------------------------------------------------------------------


def reserve_stock(ctx: StepContext) -> dict[str, Any]:
    participants.catalog.stock_reserve(
        key=ctx.key(),
        lines=tuple(StockLine(sku=line.sku, quantity=line.quantity) for line in ctx.order.lines),
        ttl=reservation_ttl(),
    )
    return {"reservation_key": ctx.key()}


def release_stock(ctx: StepContext) -> None:
    try:
        participants.catalog.stock_release(key=_reservation_key(ctx))
    except ReservationNotFound:
        pass  # never reserved (out of stock): nothing is held
    except ReservationCommitted:
        # Already a sale (a cancel after ready_to_ship): give the goods back to stock.
        participants.catalog.stock_return(key=_reservation_key(ctx))


# --- authorize -------------------------------------------------------------------------------------


def authorize_payment(ctx: StepContext) -> dict[str, Any]:
    _extend_reservation(ctx)
    order = ctx.order
    payment = participants.payments.payment_authorize(
        key=ctx.key(),
        order_id=order.id,
        user_id=order.user_id,
        amount=order.total,
        currency=order.currency,
        payment_method=order.payment_method,
        invoice_lines=tuple(
            InvoiceLineData(
                description=f"{line.name} ({line.sku})", quantity=line.quantity, unit_amount=line.unit_price
            )
            for line in order.lines
        ),
        billing_address=order.shipping_address,
    )
    return {"payment_id": str(payment.id)}


def in_doubt(exc: BaseException) -> bool:
    """An authorize whose answer never came, after the payments service's own keyed retries: the saga
    does not drive it again but compensates, and the compensation looks it up by key and voids it."""
    return isinstance(exc, PaymentProviderUnavailable)


def undo_payment(ctx: StepContext) -> None:
    """Void the order's payment, or refund what was captured. A payment in doubt is looked up by key
    before it is voided (payments does it), never assumed uncharged."""
    for payment in participants.payments.payments_for_order(order_id=ctx.order.id):
        if payment.status in ("captured", "partially_refunded"):
            remaining = payment.captured_amount - payment.refunded_amount
            if remaining > 0:
                participants.payments.payment_refund(
                    key=ctx.key("refund"),
                    payment_id=payment.id,
                    amount=remaining,
                    reason=f"Order {ctx.order.number} cancelled",
                    actor="orders:saga",
                )
        elif payment.status in ("pending", "authorized", "in_doubt"):
            participants.payments.payment_void(key=ctx.key("void"), payment_id=payment.id)


# --- ship ----------------------------------------------------------------------------------------------


def create_shipment(ctx: StepContext) -> dict[str, Any]:
    order = ctx.order
    shipment = participants.shipping.shipment_create(
        key=ctx.key(),
        order_id=order.id,
        user_id=order.user_id,
        address=AddressData(**order.shipping_address),
        lines=tuple(ShipmentLineData(sku=line.sku, quantity=line.quantity) for line in order.lines),
    )
    return {"shipment_id": str(shipment.id)}


def cancel_shipment(ctx: StepContext) -> None:
    shipments = {str(s.id) for s in participants.shipping.shipments_for_order(order_id=ctx.order.id)}
    if ctx.data.get("shipment_id"):
        shipments.add(ctx.data["shipment_id"])
    for shipment_id in sorted(shipments):
        participants.shipping.shipment_cancel(
            key=ctx.key("cancel_shipment"), shipment_id=uuid.UUID(shipment_id)
        )


# --- confirm -------------------------------------------------------------------------------------------


def undo_confirm(ctx: StepContext) -> None:
    """Nothing of its own, on purpose: a capture is refunded by authorize's compensation and a sale
    returned to stock by reserve's, both of which run after ship's. So the shipment is cancelled
    before any money goes back, and a parcel already with the carrier (not cancellable) stops the
    compensation before the refund: the order goes to an operator instead of refunding goods that left.
    """


def capture_and_commit(ctx: StepContext) -> dict[str, Any]:
    """Capture the payment, then turn the reservation into a sale."""
    participants.payments.payment_capture(key=ctx.key(), payment_id=uuid.UUID(ctx.data["payment_id"]))
    try:
        participants.catalog.stock_commit(key=_reservation_key(ctx))
    except (ReservationExpired, ReservationNotFound) as exc:
        raise _reservation_gone(exc) from exc
    return {}
