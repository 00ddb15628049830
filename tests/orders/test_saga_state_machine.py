"""The order saga's state machine with fake participants: no broker, no HTTP, every path.

Messages the engine sends are collected by the driver and delivered by hand, so each test can lose,
repeat or reorder them, and move the clock for deadlines.
"""

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from contexts.catalog.api import OutOfStock, ReservationExpired
from contexts.orders.data import SagaActionRefused
from contexts.orders.models import OperatorAction, Order, Saga, SagaStep
from contexts.orders.saga import engine
from contexts.orders.saga.definition import ORDER_SAGA_V1
from contexts.orders.services import orders
from contexts.payments.api import PaymentDeclined, PaymentStateConflict
from contexts.shipping.api import AddressRejected, ShipmentNotCancellable
from integration.bus.core import max_countdown
from integration.bus.models import OutboxMessage
from integration.errors import TransientError
from tests.orders.conftest import make_order, start_saga

pytestmark = pytest.mark.django_db

STEPS = [step.name for step in ORDER_SAGA_V1.steps]
UNDO = ("stock_release", "stock_return", "payment_void", "payment_refund", "shipment_cancel")


def state(saga: Saga) -> tuple[str, str, str]:
    saga.refresh_from_db()
    saga.order.refresh_from_db()
    return saga.status, saga.order.status, saga.order.cancellation_reason


def steps_of(saga: Saga) -> dict[str, tuple[str, int]]:
    return {s.name: (s.status, s.attempts) for s in SagaStep.objects.filter(saga=saga)}


def published(order: Order) -> list[str]:
    return list(
        OutboxMessage.objects.filter(payload__order_id=str(order.id))
        .order_by("created_at")
        .values_list("type", flat=True)
    )


def undone(fakes) -> list[str]:
    return [name for name in fakes.journal if name in UNDO]


def test_the_happy_path_runs_every_step_once_with_keyed_calls(driver, fakes):
    saga = start_saga(driver)
    assert driver.run() == ["succeeded"] * 4

    assert state(saga) == ("completed", "ready_to_ship", "")
    assert steps_of(saga) == {name: ("succeeded", 1) for name in STEPS}
    assert saga.definition_version == ORDER_SAGA_V1.version
    # Every participant call is keyed <saga_id>:<step>.
    assert fakes.catalog.keys("stock_reserve") == [f"{saga.id}:reserve"]
    assert fakes.payments.keys("payment_authorize") == [f"{saga.id}:authorize"]
    assert fakes.shipping.keys("shipment_create") == [f"{saga.id}:ship"]
    assert fakes.payments.keys("payment_capture") == [f"{saga.id}:confirm"]
    assert fakes.catalog.keys("stock_commit") == [f"{saga.id}:reserve"]
    # The reservation is extended while payment is in progress (so it cannot lapse under a slow card),
    # and the stock is committed only after the capture.
    assert fakes.journal == [
        "stock_reserve",
        "stock_extend",
        "payment_authorize",
        "shipment_create",
        "payment_capture",
        "stock_commit",
    ]
    assert fakes.payments.status() == ["captured"]
    assert set(saga.data) == {"reservation_key", "payment_id", "shipment_id"}
    assert published(saga.order) == ["orders.OrderConfirmed.v1"]
    assert [c.status for c in saga.order.timeline.all()] == ["ready_to_ship"]


@pytest.mark.parametrize(
    ("participant", "call", "error", "reason", "compensations"),
    [
        ("catalog", "stock_reserve", OutOfStock(["MUG-1"]), "out_of_stock", ["stock_release"]),
        (
            "payments",
            "payment_authorize",
            PaymentDeclined(payment_id=uuid.uuid4(), decline_code="card_declined"),
            "payment_declined",
            ["stock_release"],
        ),
        (
            "shipping",
            "shipment_create",
            AddressRejected(carrier="sandbox", carrier_code="address_rejected"),
            "address_rejected",
            ["payment_void", "stock_release"],
        ),
        (
            "payments",
            "payment_capture",
            PaymentStateConflict(payment_id=uuid.uuid4(), status="voided", operation="capture"),
            "payment_declined",
            # The shipment is cancelled before any money goes back (confirm's undo does nothing).
            ["shipment_cancel", "payment_void", "stock_release"],
        ),
        (
            "catalog",
            "stock_commit",
            ReservationExpired("k"),
            "timeout",
            ["shipment_cancel", "payment_refund", "stock_release"],
        ),
    ],
    ids=["reserve", "authorize", "ship", "confirm-capture", "confirm-commit"],
)
def test_a_business_failure_at_each_step_compensates_in_reverse_order(
    driver, fakes, participant, call, error, reason, compensations
):
    getattr(fakes, participant).fail(call, error)
    saga = start_saga(driver)
    driver.run()

    assert state(saga) == ("compensated", "cancelled", reason)
    assert undone(fakes) == compensations
    statuses = steps_of(saga)
    failed_at = next(name for name in reversed(STEPS) if statuses[name][1] > 0)
    for name in STEPS[: STEPS.index(failed_at) + 1]:
        assert statuses[name][0] == "compensated", name
    for name in STEPS[STEPS.index(failed_at) + 1 :]:
        assert statuses[name] == ("pending", 0)  # never started: nothing to undo
    # Nothing stays authorized or captured.
    assert set(fakes.payments.status()) <= {"voided", "refunded"}
    assert all(status != "created" for status in (s.status for s in fakes.shipping.shipments.values()))
    assert published(saga.order) == ["orders.OrderCancelled.v1"]
    assert [c.status for c in saga.order.timeline.all()] == ["cancelled"]


def test_transient_errors_retry_with_backoff_then_succeed(driver, fakes):
    fakes.catalog.fail("stock_reserve", TransientError("db busy"), TransientError("db busy"))
    fakes.shipping.fail("shipment_create", TransientError("carrier 503"))
    saga = start_saga(driver)
    outcomes = driver.run()

    assert outcomes.count("retrying") == 3
    assert state(saga) == ("completed", "ready_to_ship", "")
    assert steps_of(saga)["reserve"] == ("succeeded", 3)
    assert steps_of(saga)["ship"] == ("succeeded", 2)
    # The same key every time: a retry cannot reserve twice.
    assert set(fakes.catalog.keys("stock_reserve")) == {f"{saga.id}:reserve"}


def test_retry_pauses_grow_with_jitter_and_never_exceed_the_brokers_limit(driver, fakes):
    fakes.catalog.fail("stock_reserve", always=TransientError("down"))
    saga = start_saga(driver)
    pauses = []
    while driver.sent:
        if driver.sent[0].kind == engine.RUN and driver.sent[0].countdown is not None:
            pauses.append(driver.sent[0].countdown)
        driver.next()
    retry = ORDER_SAGA_V1.step("reserve").retry
    assert len(pauses) == retry.attempts - 1
    for attempt, pause in enumerate(pauses, start=1):
        ceiling = min(retry.cap, retry.base * 2 ** (attempt - 1))
        assert ceiling / 2 <= pause <= ceiling
    # However large a policy's backoff, a countdown stays below what the broker can hold.
    assert engine.Retry(attempts=3, base=10**6, cap=10**7).pause(2) <= max_countdown()
    assert state(saga) == ("compensated", "cancelled", "provider_unavailable")


def test_transient_errors_past_the_steps_limit_compensate(driver, fakes):
    fakes.shipping.fail("shipment_create", always=TransientError("carrier down"))
    saga = start_saga(driver)
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "provider_unavailable")
    assert steps_of(saga)["ship"] == ("compensated", ORDER_SAGA_V1.step("ship").retry.attempts)
    assert "carrier down" in SagaStep.objects.get(saga=saga, name="ship").last_error
    assert fakes.payments.status() == ["voided"]
    assert undone(fakes) == ["payment_void", "stock_release"]


def test_an_authorize_left_in_doubt_is_not_driven_again_but_voided(driver, fakes):
    fakes.payments.lose_answer = True  # charged, but the answer never came
    saga = start_saga(driver)
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "provider_unavailable")
    assert fakes.payments.keys("payment_authorize") == [f"{saga.id}:authorize"]  # not driven again
    # Never assumed uncharged: the payment in doubt is voided (payments looks it up by key first).
    assert fakes.payments.status() == ["voided"]
    assert undone(fakes) == ["payment_void", "stock_release"]


def test_a_compensation_that_keeps_failing_needs_attention(driver, fakes):
    fakes.shipping.fail(
        "shipment_create", AddressRejected(carrier="sandbox", carrier_code="address_rejected")
    )
    fakes.payments.fail("payment_void", always=TransientError("provider down"))
    saga = start_saga(driver)
    driver.run()

    assert state(saga) == ("failed", "needs_attention", "")
    step = SagaStep.objects.get(saga=saga, name="authorize")
    assert step.status == "compensation_failed"
    assert step.compensation_attempts == ORDER_SAGA_V1.compensation_retry.attempts
    assert "provider down" in step.last_error
    assert published(saga.order) == ["orders.OrderNeedsAttention.v1"]
    # The later compensation (the shipment) ran; the earlier one (the stock) waits for the operator.
    assert "stock_release" not in fakes.journal

    # The operator fixes the provider and retries: the saga finishes compensating.
    del fakes.payments.always["payment_void"]
    done = driver.do(
        orders.saga_operator_action,
        order_id=saga.order_id,
        kind="retry_step",
        operator="ops@example.com",
        reason="provider back",
    )
    assert done == "sent compensation of authorize again"
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "address_rejected")
    assert OperatorAction.objects.get(saga=saga).operator == "ops@example.com"


def test_a_failed_saga_can_be_marked_resolved_by_an_operator(driver, fakes):
    fakes.catalog.fail("stock_reserve", OutOfStock(["MUG-1"]))
    fakes.catalog.fail("stock_release", always=TransientError("catalog down"))
    saga = start_saga(driver)
    driver.run()
    assert state(saga)[:2] == ("failed", "needs_attention")
    driver.do(
        orders.saga_operator_action,
        order_id=saga.order_id,
        kind="mark_resolved",
        operator="ops@example.com",
        reason="released by hand",
    )
    assert state(saga) == ("resolved", "cancelled", "out_of_stock")
    action = OperatorAction.objects.get(saga=saga)
    assert (action.kind, action.reason) == ("mark_resolved", "released by hand")


def test_a_step_past_its_deadline_is_failed_by_the_sweeper_and_compensated(driver, fakes):
    saga = start_saga(driver)
    driver.next()  # reserve
    lost = driver.sent.pop()  # the authorize message is lost
    assert lost.step == "authorize"
    assert driver.do(engine.sagas_sweep) == 0  # not due yet
    later = timezone.now() + dt.timedelta(seconds=ORDER_SAGA_V1.step("authorize").deadline + 1)
    assert driver.do(engine.sagas_sweep, now=later) == 1
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "timeout")
    assert undone(fakes) == ["stock_release"]
    # The lost message turns up at last: too late, ignored.
    assert driver.deliver(lost) == "ignored"
    assert "payment_authorize" not in fakes.journal


def test_a_lost_compensation_message_is_sent_again_by_the_sweeper(driver, fakes):
    fakes.payments.fail("payment_authorize", PaymentDeclined(payment_id=uuid.uuid4(), decline_code="x"))
    saga = start_saga(driver)
    driver.next()
    driver.next()  # authorize declined: compensation of reserve is sent...
    assert [m.kind for m in driver.sent] == [engine.COMPENSATE]
    driver.sent.clear()  # ...and lost
    later = timezone.now() + dt.timedelta(seconds=ORDER_SAGA_V1.compensation_overdue + 1)
    assert driver.do(engine.sagas_sweep, now=later) == 1
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "payment_declined")


def test_a_success_arriving_after_the_deadline_is_undone(driver, fakes):
    saga = start_saga(driver)
    driver.next()  # reserve
    message = driver.sent.pop(0)  # authorize, in flight while the sweeper gives up on it
    original = fakes.payments.payment_authorize

    def slow_authorize(**kwargs):
        later = timezone.now() + dt.timedelta(seconds=ORDER_SAGA_V1.step("authorize").deadline + 1)
        driver.do(engine.sagas_sweep, now=later)
        return original(**kwargs)

    fakes.payments.payment_authorize = slow_authorize
    assert driver.deliver(message) == "ignored"
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "timeout")
    # The authorization that landed after the compensation was voided by the late compensation.
    assert fakes.payments.status() == ["voided"]


def test_every_step_message_delivered_twice_gives_the_same_result_as_once(driver, fakes):
    saga = start_saga(driver)
    outcomes = []
    while driver.sent:
        message = driver.sent.pop(0)
        outcomes += [driver.deliver(message), driver.deliver(message)]
    assert outcomes == ["succeeded", "ignored"] * 4
    assert state(saga) == ("completed", "ready_to_ship", "")
    assert steps_of(saga) == {name: ("succeeded", 1) for name in STEPS}
    assert published(saga.order) == ["orders.OrderConfirmed.v1"]


def test_a_redelivery_while_the_attempt_is_in_flight_runs_again_with_the_same_key(driver, fakes):
    saga = start_saga(driver)
    message = driver.sent.pop(0)
    original = fakes.catalog.stock_reserve
    results = []

    def reserve_while_redelivered(**kwargs):
        fakes.catalog.stock_reserve = original
        # The worker running this attempt is presumed dead: the broker delivers the message again.
        results.append(engine.step_run(saga_id=message.saga_id, step=message.step, attempt=message.attempt))
        return original(**kwargs)

    fakes.catalog.stock_reserve = reserve_while_redelivered
    results.append(driver.deliver(message))
    assert results == ["succeeded", "ignored"]  # the redelivery recorded; the first one's result is stale
    assert fakes.catalog.keys("stock_reserve") == [f"{saga.id}:reserve"] * 2
    assert len(fakes.catalog.reservations) == 1
    driver.run()
    assert state(saga) == ("completed", "ready_to_ship", "")


def test_out_of_order_and_stale_messages_are_ignored(driver, fakes):
    fakes.catalog.fail("stock_reserve", TransientError("busy"))
    saga = start_saga(driver)
    first = driver.sent[0]
    assert driver.next() == "retrying"
    retry = driver.sent[0]
    assert retry.attempt == 2
    # The first attempt's message again, while the retry waits: stale.
    assert driver.deliver(first) == "ignored"
    # A message for a later step, before its turn: out of order.
    assert driver.deliver(engine_message(saga, "confirm", 1)) == "ignored"
    # An attempt from the future: ignored too.
    assert driver.deliver(engine_message(saga, "reserve", 7)) == "ignored"
    driver.run()
    assert state(saga) == ("completed", "ready_to_ship", "")
    assert driver.deliver(retry) == "ignored"  # after the saga moved on
    assert fakes.catalog.keys("stock_reserve") == [f"{saga.id}:reserve"] * 2
    assert published(saga.order) == ["orders.OrderConfirmed.v1"]


def engine_message(saga, step, attempt):
    from tests.orders.conftest import Message

    return Message(engine.RUN, saga.id, step, attempt, None)


def test_one_saga_per_order_is_enforced_by_the_database(driver, fakes):
    saga = start_saga(driver)
    with pytest.raises(IntegrityError), transaction.atomic():
        engine.saga_start(order=saga.order, definition=ORDER_SAGA_V1)
    assert Saga.objects.filter(order=saga.order).count() == 1


def test_a_customer_cancel_waits_for_the_step_in_flight_then_compensates(driver, fakes):
    saga = start_saga(driver)
    driver.next()  # reserve
    message = driver.sent.pop(0)
    original = fakes.payments.payment_authorize

    def authorize_while_cancelled(**kwargs):
        driver.do(orders.order_cancel, order_id=saga.order_id, user_id=saga.order.user_id)
        assert driver.sent == []  # nothing compensated under the call in flight
        return original(**kwargs)

    fakes.payments.payment_authorize = authorize_while_cancelled
    assert driver.deliver(message) == "cancelled"
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "customer_request")
    assert undone(fakes) == ["payment_void", "stock_release"]


def test_a_customer_cancel_between_steps_compensates_at_once(driver, fakes):
    fakes.catalog.fail("stock_reserve", TransientError("busy"))
    saga = start_saga(driver)
    driver.next()  # reserve fails transiently: a retry is waiting
    retry = driver.sent.pop(0)
    driver.do(orders.order_cancel, order_id=saga.order_id, user_id=saga.order.user_id)
    driver.run()
    assert driver.deliver(retry) == "ignored"
    assert state(saga) == ("compensated", "cancelled", "customer_request")
    assert "stock_reserve" in fakes.journal and fakes.journal.count("stock_reserve") == 1


def test_a_ready_to_ship_order_cancelled_by_the_customer_is_refunded(driver, fakes):
    saga = start_saga(driver)
    driver.run()
    driver.do(orders.order_cancel, order_id=saga.order_id, user_id=saga.order.user_id)
    driver.run()
    assert state(saga) == ("compensated", "cancelled", "customer_request")
    assert fakes.payments.status() == ["refunded"]
    # The stock was already a sale: the release finds it committed and the goods are returned.
    assert undone(fakes) == ["shipment_cancel", "payment_refund", "stock_release", "stock_return"]
    assert set(fakes.catalog.reservations.values()) == {"returned"}


def test_a_shipped_order_cannot_be_cancelled(driver, fakes):
    from contexts.orders.data import OrderNotCancellable

    saga = start_saga(driver)
    driver.run()
    assert orders.order_mark_shipped(order_id=saga.order_id, shipment_id=uuid.uuid4())
    assert not orders.order_mark_shipped(order_id=saga.order_id, shipment_id=uuid.uuid4())  # a repeat
    with pytest.raises(OrderNotCancellable):
        orders.order_cancel(order_id=saga.order_id, user_id=saga.order.user_id)
    assert orders.order_mark_delivered(order_id=saga.order_id, shipment_id=uuid.uuid4())
    saga.order.refresh_from_db()
    assert saga.order.status == "delivered"
    assert [c.status for c in saga.order.timeline.all()] == ["ready_to_ship", "shipped", "delivered"]


def test_shipping_reports_for_an_order_not_ready_change_nothing(driver, fakes):
    order = make_order()
    assert not orders.order_mark_shipped(order_id=order.id, shipment_id=uuid.uuid4())
    assert not orders.order_mark_delivered(order_id=uuid.uuid4(), shipment_id=uuid.uuid4())
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_parcel_already_with_the_carrier_stops_the_compensation_before_any_refund(driver, fakes):
    # The customer's cancel races the carrier's scan: the shipment can no longer be cancelled, so the
    # money is not refunded for goods that left; the order goes to an operator.
    saga = start_saga(driver)
    driver.run()
    fakes.shipping.fail(
        "shipment_cancel",
        always=ShipmentNotCancellable(shipment_id=uuid.uuid4(), status="in_transit", requested="cancelled"),
    )
    driver.do(orders.order_cancel, order_id=saga.order_id, user_id=saga.order.user_id)
    driver.run()
    assert fakes.payments.status() == ["captured"]
    assert "payment_refund" not in fakes.journal
    saga.refresh_from_db()
    assert saga.order.status == "needs_attention"


@pytest.mark.parametrize("status", ["shipped", "delivered"])
def test_an_operator_cannot_force_compensation_once_the_goods_left(driver, fakes, status):
    saga = start_saga(driver)
    driver.run()
    Order.objects.filter(id=saga.order_id).update(status=status)
    with pytest.raises(SagaActionRefused, match="goods left"):
        orders.saga_operator_action(
            order_id=saga.order_id,
            kind=OperatorAction.Kind.FORCE_COMPENSATION,
            operator="ops",
            reason="asked",
        )
    assert fakes.payments.status() == ["captured"] and "payment_refund" not in fakes.journal
