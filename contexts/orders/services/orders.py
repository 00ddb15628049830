"""Orders after checkout: status transitions (each on the timeline, each with its event), the customer's
cancellation, shipping's reports, and the operators' actions on a saga."""

import uuid

from django.db import transaction
from django.utils import timezone

from contexts.orders import events
from contexts.orders.data import OrderNotCancellable, OrderNotFound, SagaActionRefused
from contexts.orders.models import OperatorAction, Order, OrderStatusChange, Saga, SagaStep
from contexts.orders.saga import engine
from integration import bus, correlation

Status = Order.Status
CANCELLABLE = (Status.PENDING, Status.READY_TO_SHIP)


def order_transition(order: Order, status: str, *, note: str = "", reason: str = "") -> None:
    """Move a (locked) order to `status`, on its timeline."""
    now = timezone.now()
    order.status = status
    order.cancellation_reason = reason if status == Status.CANCELLED else ""
    order.updated_at = now
    order.save(update_fields=["status", "cancellation_reason", "updated_at"])
    OrderStatusChange.objects.create(order=order, status=status, note=note[:300], at=now)


def _summary(order: Order) -> dict:
    return {
        "order_id": order.id,
        "user_id": order.user_id,
        "order_number": order.number,
        "total": order.total,
        "currency": order.currency,
    }


# --- the saga's outcomes (called by the engine inside the transition's transaction) ----------------


def order_saga_completed(*, saga: Saga) -> None:
    order = saga.order
    order_transition(order, Status.READY_TO_SHIP, note="payment captured, stock committed, shipment created")
    bus.publish(events.OrderConfirmed(**_summary(order)))


def order_saga_compensated(*, saga: Saga) -> None:
    order = saga.order
    reason = saga.failure_reason or Order.CancellationReason.TIMEOUT
    order_transition(order, Status.CANCELLED, note=f"cancelled: {reason}", reason=reason)
    bus.publish(events.OrderCancelled(**_summary(order), cancellation_reason=reason))


def order_saga_failed(*, saga: Saga, step: SagaStep) -> None:
    order = saga.order
    order_transition(order, Status.NEEDS_ATTENTION, note=f"compensation of {step.name} keeps failing")
    bus.publish(
        events.OrderNeedsAttention(
            order_id=order.id,
            user_id=order.user_id,
            order_number=order.number,
            saga_id=saga.id,
            step=step.name,
            error=step.last_error[:500],
        )
    )


# --- the customer ------------------------------------------------------------------------------------


def _locked_saga(order_id: uuid.UUID, user_id: uuid.UUID | None) -> Saga:
    filters = {"order_id": order_id} if user_id is None else {"order_id": order_id, "order__user_id": user_id}
    saga = Saga.objects.select_for_update(of=("self",)).select_related("order").filter(**filters).first()
    if saga is None:
        raise OrderNotFound(order_id=order_id)
    return saga


def order_cancel(*, order_id: uuid.UUID, user_id: uuid.UUID) -> Order:
    """The customer cancels a pending or ready_to_ship order: the saga compensates (the order becomes
    cancelled, `customer_request`, once it has). OrderNotFound for another user's order;
    OrderNotCancellable once it is shipped, delivered, cancelled or needs attention."""
    with transaction.atomic():
        saga = _locked_saga(order_id, user_id)
        order = Order.objects.select_for_update(of=("self",)).get(id=order_id)
        if order.status not in CANCELLABLE:
            raise OrderNotCancellable(status=order.status)
        with correlation.bound(correlation.get() or saga.correlation_id):
            engine.saga_cancel(saga=saga, reason=Order.CancellationReason.CUSTOMER_REQUEST)
        return order


# --- shipping's reports ------------------------------------------------------------------------------


def _shipping_report(order_id, shipment_id, *, before: tuple[str, ...], after: str, event) -> bool:
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).filter(id=order_id).first()
        if order is None or order.status not in before:
            return False
        order_transition(order, after, note=f"shipment {shipment_id}")
        bus.publish(
            event(
                order_id=order.id, user_id=order.user_id, order_number=order.number, shipment_id=shipment_id
            )
        )
        return True


def order_mark_shipped(*, order_id: uuid.UUID, shipment_id: uuid.UUID) -> bool:
    """The parcel is in transit: ready_to_ship → shipped. Anything else (a repeat, an order cancelled
    meanwhile, a report arriving before confirmation) changes nothing; returns whether it moved."""
    return _shipping_report(
        order_id, shipment_id, before=(Status.READY_TO_SHIP,), after=Status.SHIPPED, event=events.OrderShipped
    )


def order_mark_delivered(*, order_id: uuid.UUID, shipment_id: uuid.UUID) -> bool:
    """Delivered: shipped (or ready_to_ship, when the in-transit report comes late) → delivered."""
    return _shipping_report(
        order_id,
        shipment_id,
        before=(Status.READY_TO_SHIP, Status.SHIPPED),
        after=Status.DELIVERED,
        event=events.OrderDelivered,
    )


# --- operators ---------------------------------------------------------------------------------------


def saga_operator_action(*, order_id: uuid.UUID, kind: str, operator: str, reason: str) -> str:
    """Retry the current step, force compensation or mark a failed saga resolved, recorded with the
    operator and their reason. SagaActionRefused when the saga's state does not allow it."""
    if not reason.strip():
        raise SagaActionRefused("Give a reason.")
    Kind = OperatorAction.Kind
    with transaction.atomic():
        saga = _locked_saga(order_id, None)
        try:
            with correlation.bound(saga.correlation_id):
                if kind == Kind.RETRY_STEP:
                    done = f"sent {engine.saga_retry_current(saga=saga)} again"
                elif kind == Kind.FORCE_COMPENSATION:
                    # Goods that left (shipped, delivered) are not taken back by a compensation: a
                    # refund for them is a refund, made on the payment, not an order cancelled.
                    status = Order.objects.filter(id=order_id).values_list("status", flat=True).first()
                    if status in (Order.Status.SHIPPED, Order.Status.DELIVERED):
                        raise SagaActionRefused(
                            f"The order is {status}: its goods left. Refund the payment instead, if owed."
                        )
                    engine.saga_force_compensation(
                        saga=saga, reason=Order.CancellationReason.CUSTOMER_REQUEST
                    )
                    done = "compensation forced"
                elif kind == Kind.MARK_RESOLVED:
                    engine.saga_mark_resolved(saga=saga)
                    order_saga_compensated(saga=saga)
                    done = "marked resolved"
                else:
                    raise SagaActionRefused(f"Unknown action {kind!r}.")
        except ValueError as exc:
            raise SagaActionRefused(str(exc)) from exc
        OperatorAction.objects.create(saga=saga, kind=kind, operator=operator, reason=reason[:500])
        return done
