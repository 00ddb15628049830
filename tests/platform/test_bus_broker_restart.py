"""RabbitMQ restarted while events flow: a relay process and a consumer process keep running while
their broker node is stopped and started again, then while its broker application is stopped and
started, and this process keeps publishing. Nothing is lost, every event has one effect per handler,
and both processes reconnect by themselves.

The node is the test's own (tests/rabbitmq_node.py): the machine's shared broker stays up.
"""

import threading

import pytest
from django.db import connection, transaction

from integration import bus
from integration.bus import rabbitmq
from integration.bus.models import Delivery, InboxRecord
from tests.busapp import events
from tests.platform.test_bus_rabbitmq import (
    HANDLERS,
    PROCESS_ENV,
    assert_exactly_once_in_effect,
    handled_once_each,
)
from tests.rabbitmq_node import NodeUnavailable, RabbitMQNode
from tests.worker import CommandProcess, wait_for_other_sessions_to_close, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    try:
        node = RabbitMQNode(tmp_path_factory.mktemp("rabbitmq"))
    except NodeUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield node.start()
    finally:
        node.destroy()
        assert not node.leftover_processes()


@pytest.fixture
def bus_processes(broker, settings, testbus):
    """A relay and a consumer of the test handlers, on the private broker; this process publishes."""
    settings.BUS = {**settings.BUS, "TRANSPORT": "rabbitmq", "BROKER_URL": broker.url}
    env = {**PROCESS_ENV, "BUS_BROKER_URL": broker.url, "CELERY_BROKER_URL": broker.url}
    relay = CommandProcess("relay_events", env=env, ready_text="relay ready", name="restart-relay")
    consumer = CommandProcess(
        "consume_events",
        "--handlers",
        ",".join(HANDLERS),
        env=env,
        ready_text="bus.consumer_ready",
        name="restart-consumer",
    )
    try:
        yield relay.start(), consumer.start()
    finally:
        relay.stop()
        consumer.stop()
        wait_for_other_sessions_to_close()


class SteadyPublisher(threading.Thread):
    """Publishes one event per transaction, about 40 a second, until stopped."""

    def __init__(self):
        super().__init__()
        self.published = []
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set():
                with transaction.atomic():
                    self.published.append(bus.publish(events.Pinged(n=len(self.published))))
                self.halt.wait(0.02)
        finally:
            connection.close()

    def wait_for_more(self, count: int) -> None:
        target = len(self.published) + count
        wait_until(lambda: len(self.published) >= target, message=f"{count} more events published")


def handled() -> int:
    return InboxRecord.objects.filter(handler__in=HANDLERS).count()


def wait_until_flowing(count: int = 60) -> None:
    """Wait until the handlers have taken `count` more deliveries from the broker."""
    target = handled() + count
    wait_until(lambda: handled() >= target, timeout=30, message="events flowing through the broker")


def test_a_broker_restarted_while_events_flow_loses_nothing_and_handles_each_once(broker, bus_processes):
    relay, consumer = bus_processes
    publisher = SteadyPublisher()
    publisher.start()
    try:
        wait_until_flowing()
        # The whole node goes down; the outbox fills while it is away.
        broker.stop()
        publisher.wait_for_more(40)
        broker.start()
        wait_until_flowing()
        # The broker application stops while the node stays up: connections are closed, then refused.
        broker.stop_app()
        publisher.wait_for_more(40)
        broker.start_app()
        wait_until_flowing()
    finally:
        publisher.halt.set()
        publisher.join()

    total = len(publisher.published)
    wait_until(lambda: handled_once_each(total), timeout=60, message=f"{total} events handled by 3 handlers")
    assert_exactly_once_in_effect(total)
    # Nothing was given up on: no dead letter, in the admin or in a dead-letter queue.
    assert not Delivery.objects.filter(status=Delivery.Status.DEAD).exists()
    assert [broker.message_count(f"{rabbitmq.queue_name(h)}.dead") for h in HANDLERS] == [0, 0, 0]
    # The same processes reconnected by themselves, and said so in their logs, twice each.
    for proc in (relay, consumer):
        assert proc.proc.poll() is None, proc.output()[-3000:]
        assert proc.output().count("bus.broker_connection_lost") >= 2, proc.output()[-3000:]
        assert proc.output().count("bus.broker_reconnected") >= 2, proc.output()[-3000:]
