"""The bus over RabbitMQ (BUS_TRANSPORT=rabbitmq) end to end: a relay process and a consumer process
against the test database and the test broker, events published in transactions by this process.

Here the relay and the consumer are killed mid-flow and their broker connections closed; the broker
itself is restarted under them in test_bus_broker_restart.py, on a node of its own (this one is shared).
"""

import shutil
import subprocess
import threading
import time
import uuid
from urllib.parse import unquote, urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu import Connection

from integration import bus, codec
from integration.bus import core, rabbitmq, registry
from integration.bus.models import Delivery, InboxRecord, OutboxMessage
from tests.busapp import events
from tests.busapp.handlers import FAIL_FLAG
from tests.busapp.models import Effect
from tests.worker import CommandProcess, wait_for_other_sessions_to_close, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

HANDLERS = ("testbus.on_pinged_a", "testbus.on_pinged_b", "testbus.on_pinged_flaky")
PROCESS_ENV = {
    "BUS_TRANSPORT": "rabbitmq",
    "BUS_MAX_ATTEMPTS": "3",
    "BUS_BACKOFF_BASE_SECONDS": "0.2",
    "BUS_BACKOFF_MAX_SECONDS": "0.5",
    "BUS_RELAY_IDLE_SECONDS": "0.05",
    "BUS_RELAY_BATCH": "50",
}


def relay() -> CommandProcess:
    return CommandProcess("relay_events", env=PROCESS_ENV, ready_text="relay ready", name="relay")


def consumer() -> CommandProcess:
    return CommandProcess(
        "consume_events",
        "--handlers",
        ",".join(HANDLERS),
        env=PROCESS_ENV,
        ready_text="bus.consumer_ready",
        name="consumer",
    )


def purge_testbus_queues() -> None:
    with Connection(settings.CELERY_BROKER_URL) as conn:
        channel = conn.channel()
        rabbitmq.declare_topology(channel)
        for name in HANDLERS:
            for queue in rabbitmq.handler_queues(registry.subscription(name)):
                queue(channel).purge()


def dead_letter_count(handler: str) -> int:
    with Connection(settings.CELERY_BROKER_URL) as conn:
        _, count, _ = conn.channel().queue_declare(f"{rabbitmq.queue_name(handler)}.dead", passive=True)
        return count


@pytest.fixture
def remote_bus(settings, testbus):
    """This process publishes (and replays) over RabbitMQ, as the relay and consumer processes do."""
    settings.BUS = {**settings.BUS, "TRANSPORT": "rabbitmq"}
    purge_testbus_queues()
    with core.use_enqueue(rabbitmq.enqueue_delivery):
        yield
    rabbitmq.publisher().close()
    wait_for_other_sessions_to_close()


@pytest.fixture
def processes(remote_bus):
    started = {"relay": relay().start(), "consumer": consumer().start()}
    yield started
    for proc in started.values():
        proc.stop()


def pinged_ids():
    return list(OutboxMessage.objects.filter(type="testbus.Pinged.v1").values_list("id", flat=True))


def handled_once_each(count: int) -> bool:
    """Every handler has seen `count` events and the relay has sent everything, the handlers' own
    events included."""
    return (
        InboxRecord.objects.filter(handler__in=HANDLERS).count() >= 3 * count
        and not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
    )


def assert_exactly_once_in_effect(count: int) -> None:
    ids = pinged_ids()
    assert len(ids) == count
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
    # Every event reached every handler, and none ran twice for one event.
    assert InboxRecord.objects.filter(handler__in=HANDLERS, event_id__in=ids).count() == 3 * count
    for name in ("a", "b", "flaky"):
        assert Effect.objects.filter(handler=name).count() == count, name
        assert Effect.objects.filter(handler=name).values("event_id").distinct().count() == count, name


def test_events_published_in_transactions_reach_their_handlers_once(processes):
    for n in range(60):
        with transaction.atomic():
            bus.publish(events.Pinged(n=n))
    # A rolled-back transaction publishes nothing.
    with pytest.raises(RuntimeError), transaction.atomic():
        bus.publish(events.Pinged(n=-1))
        raise RuntimeError("rolled back")

    wait_until(lambda: handled_once_each(60), timeout=60, message="60 events handled by 3 handlers")
    time.sleep(0.5)  # anything sent twice would show now
    assert_exactly_once_in_effect(60)
    # No delivery rows: the broker fans out; rows are written only for dead letters and replays.
    assert not Delivery.objects.exists()
    # The relay's and the handler's events carry the correlation id through the broker.
    recorded = OutboxMessage.objects.filter(type="testbus.Recorded.v1")
    assert recorded.count() == 60
    pinged = OutboxMessage.objects.get(type="testbus.Pinged.v1", payload__n=7)
    assert recorded.get(payload__of=str(pinged.id)).correlation_id == pinged.correlation_id


def test_a_handler_failing_n_times_is_dead_lettered_and_replayed_from_the_admin(processes):
    cache.set(FAIL_FLAG, True, timeout=120)
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=500))

    dead = wait_until(
        lambda: Delivery.objects.filter(
            message_id=event_id, handler="testbus.on_pinged_flaky", status="dead"
        ).first(),
        timeout=30,
        message="the flaky handler's delivery dead-lettered",
    )
    assert dead.attempts == 3  # BUS_MAX_ATTEMPTS of the consumer
    assert "flaky handler told to fail" in dead.last_error
    assert dead_letter_count("testbus.on_pinged_flaky") == 1
    assert not Effect.objects.filter(handler="flaky").exists()
    # The other handlers were not held back.
    assert Effect.objects.filter(event_id=event_id, handler__in=("a", "b")).count() == 2

    operator = get_user_model().objects.create_superuser("ops@example.com", "a-long-operator-password")
    admin = Client()
    admin.force_login(operator)
    listing = admin.get(reverse("admin:integration_delivery_changelist") + "?status__exact=dead")
    assert "testbus.on_pinged_flaky" in listing.content.decode()

    cache.delete(FAIL_FLAG)  # the handler is fixed
    response = admin.post(
        reverse("admin:integration_delivery_changelist"),
        {"action": "replay", "_selected_action": [dead.id]},
        follow=True,
    )
    assert "Replayed 1 deliveries." in response.content.decode()
    wait_until(
        lambda: Delivery.objects.get(id=dead.id).status == "delivered",
        timeout=20,
        message="replayed delivery",
    )
    assert Effect.objects.filter(event_id=event_id, handler="flaky").count() == 1
    assert Effect.objects.filter(event_id=event_id).count() == 3


@pytest.mark.parametrize("attempts", ["three", [1]])
def test_a_message_whose_attempts_header_is_unreadable_is_dead_lettered_and_holds_nothing_back(
    processes, attempts
):
    """A message published by something other than the relay or the consumer's own retries (a
    hand-made replay, a foreign producer) with an `x-attempts` no integer: dead-lettered as malformed,
    while the consumer goes on with the next messages of every queue."""
    foreign = core.Envelope(
        id=uuid.uuid4(),
        type="testbus.Pinged.v1",
        version=1,
        occurred_at=timezone.now(),
        source="testbus",
        correlation_id="foreign-0123456789",
        causation_id=None,
        payload={"n": 1},
    )
    with Connection(settings.CELERY_BROKER_URL) as conn:
        conn.Producer().publish(
            codec.dumps(foreign),
            exchange=rabbitmq.exchange_for("testbus"),
            routing_key="testbus.Pinged.v1",
            headers={rabbitmq.ATTEMPTS_HEADER: attempts},
            content_type="application/json",
            delivery_mode=2,
        )
    with transaction.atomic():
        bus.publish(events.Pinged(n=2))

    wait_until(lambda: handled_once_each(1), timeout=30, message="the next event handled by every handler")
    wait_until(
        lambda: all(dead_letter_count(name) == 1 for name in HANDLERS),
        timeout=10,
        message="the unreadable message dead-lettered from every handler's queue",
    )
    assert not InboxRecord.objects.filter(event_id=foreign.id).exists()


def close_vhost_connections() -> int:
    """Close this suite's broker connections (the relay's, the consumer's) on the test vhost only."""
    vhost = unquote(urlparse(settings.CELERY_BROKER_URL).path[1:]) or "/"
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "vhost", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    closed = 0
    for line in out.splitlines():
        parts = line.split("\t")
        if (
            len(parts) >= 3
            and parts[0] == vhost
            and ("shop-bus-relay" in parts[2] or "shop-bus-consumer" in parts[2])
        ):
            subprocess.run(
                ["rabbitmqctl", "-q", "close_connection", parts[1], "test: connection loss"],
                capture_output=True,
                timeout=30,
                check=False,
            )
            closed += 1
    return closed


def test_processes_killed_and_connections_closed_while_events_flow_lose_nothing(processes):
    total = 240
    published = []

    def publish_steadily():
        try:
            for n in range(total):
                with transaction.atomic():
                    published.append(bus.publish(events.Pinged(n=n)))
                time.sleep(0.01)
        finally:
            connection.close()

    publisher = threading.Thread(target=publish_steadily)
    publisher.start()
    wait_until(lambda: len(published) >= 40, message="events flowing")
    processes["relay"].kill()
    processes["relay"] = relay().start()
    wait_until(lambda: len(published) >= 100, message="more events")
    processes["consumer"].kill()
    processes["consumer"] = consumer().start()
    wait_until(lambda: len(published) >= 160, message="more events")
    if shutil.which("rabbitmqctl"):
        closed = close_vhost_connections()
        assert closed >= 2, (closed, processes["relay"].output()[-3000:])
    publisher.join()

    wait_until(lambda: handled_once_each(total), timeout=90, message=f"{total} events handled by 3 handlers")
    time.sleep(0.5)
    assert_exactly_once_in_effect(total)


def test_the_rabbitmq_transport_refuses_a_broker_that_is_not_rabbitmq(settings):
    from integration import checks

    settings.BUS = {**settings.BUS, "TRANSPORT": "rabbitmq", "BROKER_URL": "memory://"}
    assert [e.id for e in checks.event_transport(None)] == ["integration.E007"]
    settings.BUS = {**settings.BUS, "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/shop"}
    assert checks.event_transport(None) == []
    settings.BUS = {**settings.BUS, "TRANSPORT": "celery", "BROKER_URL": "memory://"}
    assert checks.event_transport(None) == []


class _Broker:
    """Stands in for the relay's publisher: confirms (or not) what the test says, records batches."""

    def __init__(self, answer):
        self.answer = answer
        self.batches = []

    def publish_batch(self, messages):
        self.batches.append(messages)
        return self.answer(messages)


def test_the_relay_marks_dispatched_only_what_the_broker_confirmed(remote_bus):
    with transaction.atomic():
        ids = [bus.publish(events.Pinged(n=n)) for n in range(5)]

    nacked = ids[1]
    broker = _Broker(lambda messages: [m.message_id != str(nacked) for m in messages])
    assert rabbitmq.relay_outbox(pub=broker) == 4
    # One batch, routed by source context and event type, as persistent envelopes.
    assert len(broker.batches) == 1 and len(broker.batches[0]) == 5
    assert {(m.exchange, m.routing_key) for m in broker.batches[0]} == {("bus.testbus", "testbus.Pinged.v1")}
    undispatched = set(OutboxMessage.objects.filter(dispatched_at__isnull=True).values_list("id", flat=True))
    assert undispatched == {nacked}

    # The broker went away mid-batch: nothing of that batch counts as sent.
    def lost(messages):
        raise ConnectionResetError("connection lost")

    with pytest.raises(ConnectionResetError):
        rabbitmq.relay_outbox(pub=_Broker(lost))
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 1

    # The next round sends the nacked row again, alone.
    again = _Broker(lambda messages: [True] * len(messages))
    assert rabbitmq.relay_outbox(pub=again) == 1
    assert [m.message_id for m in again.batches[0]] == [str(nacked)]
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
