"""The event bus's guarantees in-process on PostgreSQL: atomic outbox, dedup, dead letters, sweeps."""

import datetime as dt
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from integration import bus
from integration.bus import core, registry
from integration.bus.models import Delivery, InboxRecord, OutboxMessage
from tests.busapp import events
from tests.busapp.models import Effect


@pytest.fixture
def no_broker():
    """Record what the relay would hand to the broker instead of sending it."""
    sent: list[int] = []
    lock = threading.Lock()

    def record(*, delivery_id, queue, correlation_id, countdown=None):
        with lock:
            sent.append(delivery_id)

    with bus.use_enqueue(record):
        yield sent


@pytest.mark.django_db(transaction=True)
def test_rolled_back_publish_leaves_no_outbox_row_and_no_delivery(testbus, no_broker):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        bus.publish(events.Pinged(n=1))
        raise Boom

    assert OutboxMessage.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert no_broker == []


@pytest.mark.django_db(transaction=True)
def test_publish_writes_one_delivery_per_subscriber_and_relays_after_commit(testbus, no_broker):
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=1))
        assert no_broker == []  # nothing leaves before the commit
    message = OutboxMessage.objects.get(id=event_id)
    assert message.type == "testbus.Pinged.v1" and message.version == 1 and message.source == "testbus"
    assert message.payload == {"n": 1}
    assert message.dispatched_at is not None
    handlers = set(Delivery.objects.filter(message=message).values_list("handler", flat=True))
    assert handlers == {"testbus.on_pinged_a", "testbus.on_pinged_b", "testbus.on_pinged_flaky"}
    assert sorted(no_broker) == sorted(Delivery.objects.values_list("id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_an_event_without_subscribers_is_recorded_and_never_swept(testbus, no_broker):
    event_id = bus.publish(events.Recorded(of=uuid.uuid4()))
    assert OutboxMessage.objects.get(id=event_id).dispatched_at is not None
    assert core.sweep_outbox(grace_seconds=0) == 0


@pytest.mark.django_db(transaction=True)
def test_delivering_the_same_delivery_five_times_has_one_effect(testbus, no_broker):
    event_id = bus.publish(events.Pinged(n=7))
    delivery = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_b")
    outcomes = [core.deliver(delivery.id).status for _ in range(5)]
    assert outcomes == ["delivered"] * 5
    Delivery.objects.filter(id=delivery.id).update(status="pending")  # a lost status write
    assert core.deliver(delivery.id).status == "delivered"
    assert Effect.objects.filter(event_id=event_id, handler="b").count() == 1
    assert InboxRecord.objects.filter(event_id=event_id, handler="testbus.on_pinged_b").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_handler_failure_rolls_back_its_work_and_schedules_a_retry_with_backoff(
    testbus, no_broker, settings
):
    from django.core.cache import cache

    from tests.busapp.handlers import FAIL_FLAG

    settings.BUS = {**settings.BUS, "MAX_ATTEMPTS": 3, "BACKOFF_BASE_SECONDS": 2.0}
    cache.set(FAIL_FLAG, True)
    event_id = bus.publish(events.Pinged(n=8))
    delivery = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_flaky")

    first = core.deliver(delivery.id)
    delivery.refresh_from_db()
    assert first.status == "failed" and delivery.attempts == 1
    assert 1.0 <= first.retry_in <= 2.0  # equal jitter: half of 2s fixed, half random
    assert delivery.next_attempt_at > timezone.now()
    assert not InboxRecord.objects.filter(handler=delivery.handler).exists()

    second = core.deliver(delivery.id)
    assert second.status == "failed" and 2.0 <= second.retry_in <= 4.0
    third = core.deliver(delivery.id)
    delivery.refresh_from_db()
    assert third.status == "dead" and third.retry_in is None
    assert delivery.attempts == 3 and "RuntimeError: flaky handler told to fail" in delivery.last_error
    # Dead is final until an operator replays it.
    assert core.deliver(delivery.id).status == "dead"

    cache.delete(FAIL_FLAG)
    assert core.replay([delivery.id]) == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.id in no_broker
    assert core.deliver(delivery.id).status == "delivered"
    assert Effect.objects.filter(event_id=event_id, handler="flaky").count() == 1


def test_backoff_grows_exponentially_and_stays_below_the_visibility_timeout(settings):
    settings.BUS = {**settings.BUS, "BACKOFF_BASE_SECONDS": 1.0, "BACKOFF_MAX_SECONDS": 10_000.0}
    settings.CELERY_VISIBILITY_TIMEOUT = 100
    ceilings = [max(core.backoff_seconds(n) for _ in range(50)) for n in range(1, 12)]
    assert ceilings[0] <= 1.0 and ceilings[3] > 4.0
    assert all(c <= 90.0 for c in ceilings)  # 0.9 x visibility timeout


@pytest.mark.django_db(transaction=True)
def test_unknown_event_type_is_dead_lettered_at_once_and_the_row_stays(testbus, no_broker):
    message = OutboxMessage.objects.create(
        type="testbus.NeverHeardOf.v1",
        version=1,
        source="testbus",
        occurred_at=timezone.now(),
        correlation_id="c1",
        payload={"x": 1},
    )
    delivery = Delivery.objects.create(message=message, handler="testbus.on_pinged_b", queue="testbus")

    # Retrying in this process cannot help: dead-lettered at once, kept for an operator to replay.
    outcome = core.deliver(delivery.id)
    assert outcome.status == "dead" and outcome.retry_in is None
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith(
        "event type 'testbus.NeverHeardOf.v1' is not registered in this process: renamed or removed?"
    )
    assert OutboxMessage.objects.filter(id=message.id).exists()
    assert not Effect.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_malformed_payload_is_dead_lettered_at_once_and_kept(testbus, no_broker):
    message = OutboxMessage.objects.create(
        type="testbus.Pinged.v1",
        version=1,
        source="testbus",
        occurred_at=timezone.now(),
        correlation_id="c2",
        payload={"n": "not a number"},
    )
    delivery = Delivery.objects.create(message=message, handler="testbus.on_pinged_b", queue="testbus")

    assert core.deliver(delivery.id).status == "dead"
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("malformed payload for testbus.Pinged.v1")
    assert "$.n: expected an integer" in delivery.last_error
    assert OutboxMessage.objects.get(id=message.id).payload == {"n": "not a number"}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweepers_send_each_of_500_rows_once(testbus, no_broker):
    registry.unsubscribe("testbus.on_pinged_b")
    registry.unsubscribe("testbus.on_pinged_flaky")
    old = timezone.now() - dt.timedelta(minutes=5)
    messages = [
        OutboxMessage(
            type="testbus.Pinged.v1",
            version=1,
            source="testbus",
            occurred_at=old,
            correlation_id="sweep",
            payload={"n": i},
            created_at=old,
        )
        for i in range(500)
    ]
    OutboxMessage.objects.bulk_create(messages)
    Delivery.objects.bulk_create(
        [Delivery(message=m, handler="testbus.on_pinged_a", queue="testbus") for m in messages]
    )

    # Slow every send down a little so the two sweepers really overlap while holding their locks.
    record = bus.enqueue_function()

    def slow_record(**kwargs):
        time.sleep(0.0005)
        record(**kwargs)

    barrier = threading.Barrier(2)
    counts, errors = [], []

    def sweeper():
        try:
            barrier.wait()
            counts.append(core.sweep_outbox(grace_seconds=0, batch=50))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    with bus.use_enqueue(slow_record):
        threads = [threading.Thread(target=sweeper) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert errors == []
    assert len(no_broker) == 500
    assert len(set(no_broker)) == 500
    assert sum(counts) == 500
    assert all(c > 0 for c in counts), f"both sweepers should have claimed rows: {counts}"
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_fresh_rows_to_the_after_commit_relay(testbus, no_broker, monkeypatch):
    monkeypatch.setattr(core, "dispatch_message", lambda *args, **kwargs: None)
    bus.publish(events.Pinged(n=9))
    assert core.sweep_outbox(grace_seconds=60) == 0
    assert core.sweep_outbox(grace_seconds=0) == 3


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_message_is_sent_again_once_well_past_due(testbus, no_broker):
    event_id = bus.publish(events.Pinged(n=10))
    no_broker.clear()
    # Dispatched, but the broker lost the task: still pending long after it was due.
    Delivery.objects.filter(message_id=event_id).update(
        next_attempt_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert core.sweep_outbox(grace_seconds=0) == 3
    assert len(no_broker) == 3
    assert core.sweep_outbox(grace_seconds=0) == 0  # not again until it is overdue once more


@pytest.mark.django_db(transaction=True)
def test_outbox_lag_is_the_age_of_the_oldest_undispatched_event(testbus, no_broker, monkeypatch):
    assert core.outbox_lag_seconds() == 0.0
    monkeypatch.setattr(core, "dispatch_message", lambda *args, **kwargs: None)
    event_id = bus.publish(events.Pinged(n=11))
    OutboxMessage.objects.filter(id=event_id).update(created_at=timezone.now() - dt.timedelta(seconds=90))
    assert 89 <= core.outbox_lag_seconds() <= 95


def test_subscribing_twice_is_idempotent(testbus):
    from tests.busapp import handlers

    before = [s.name for s in registry.subscribers("testbus.Pinged.v1")]
    handlers.register()
    handlers.register()
    assert [s.name for s in registry.subscribers("testbus.Pinged.v1")] == before


def test_an_event_type_name_must_be_versioned():
    from dataclasses import dataclass
    from typing import ClassVar

    @dataclass(frozen=True, kw_only=True)
    class Unversioned:
        EVENT_TYPE: ClassVar[str] = "testbus.Unversioned"

    with pytest.raises(registry.RegistryError, match="not a versioned event type"):
        registry.register_event(Unversioned)


def test_decimal_payloads_stay_exact(testbus):
    assert core.codec.to_primitive(events.Line(sku="A", quantity=1, unit_price=Decimal("0.10"))) == {
        "sku": "A",
        "quantity": 1,
        "unit_price": "0.10",
    }
