"""The bus over RabbitMQ (BUS_TRANSPORT=rabbitmq): the outbox relay, the consumer, the topology.

Topology, declared from the registry by the relay and by every consumer (the same code everywhere,
so every process knows every subscription):

- a durable topic exchange per source context, `bus.<context>`; the event type is the routing key;
- a durable queue per subscribing handler, `bus.<handler>`, bound by the event type it subscribes to;
- the dead-letter exchange `bus.dead-letter` (direct), where a handler's queue dead-letters to its
  dead-letter queue `bus.<handler>.dead` (routing key: the handler's queue name);
- a retry queue per handler, `bus.<handler>.retry`: a failed message waits there for its backoff
  (per-message expiration) and is dead-lettered back to the handler's queue.

The relay claims undispatched outbox rows (SELECT ... FOR UPDATE SKIP LOCKED, so several relays never
double-send), publishes them persistent on a channel in confirm mode, waits for the batch's confirms
together, and marks dispatched only the rows the broker confirmed, in the claiming transaction. A
crash in between resends; the consumers' inbox absorbs the duplicate.

The consumer runs each handler with the same inbox dedupe as in-process delivery
(core.deliver_envelope) and acks after the commit. A failure is published to the retry queue with
one more attempt counted in the `x-attempts` header; the BUS_MAX_ATTEMPTS-th failure (or a permanent
one) is recorded as a dead delivery for the admin and rejected to the dead-letter queue.

Both processes outlive their broker: when it restarts (or a connection is closed) they log it, back
off and reconnect in the same process (Reconnecting). A batch whose confirms never came stays unsent
and is published again; a message whose ack was lost with the connection is redelivered; the inbox
absorbs both duplicates. Queues are durable and messages persistent, so what the broker confirmed
survives its restart.
"""

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu import exceptions as kombu_errors

from integration import codec
from integration.backoff import equal_jitter
from integration.bus import core, registry
from integration.bus.models import Delivery, OutboxMessage
from integration.logging import get_logger

log = get_logger(__name__)

DEAD_LETTER_EXCHANGE = "bus.dead-letter"
ATTEMPTS_HEADER = "x-attempts"
DELIVERY_HEADER = "x-delivery-id"


def _conf(key: str) -> Any:
    return settings.BUS[key]


def broker_url() -> str:
    return _conf("BROKER_URL") or settings.CELERY_BROKER_URL


# --- topology ----------------------------------------------------------------------------------------


def exchange_for(source: str) -> Exchange:
    """The durable topic exchange a source context's events are published to."""
    return Exchange(f"bus.{source}", type="topic", durable=True)


def queue_name(handler: str) -> str:
    return f"bus.{handler}"


def handler_queues(sub: registry.Subscription) -> tuple[Queue, Queue, Queue]:
    """A subscription's queue (bound to its event type), its retry queue and its dead-letter queue."""
    name = queue_name(sub.name)
    source, _, _ = registry.parse_type_name(sub.event_type)
    main = Queue(
        name,
        exchange_for(source),
        routing_key=sub.event_type,
        durable=True,
        queue_arguments={"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-dead-letter-routing-key": name},
    )
    # Expired messages go back to the handler's queue through the default exchange.
    retry = Queue(
        f"{name}.retry",
        durable=True,
        queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
    )
    dead = Queue(
        f"{name}.dead",
        Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True),
        routing_key=name,
        durable=True,
        queue_arguments={"x-message-ttl": int(_conf("DEAD_LETTER_TTL_SECONDS") * 1000)},
    )
    return main, retry, dead


def declare_topology(channel: Any, subscriptions: Iterable[registry.Subscription] | None = None) -> None:
    """Declare every source exchange, handler queue, retry queue and dead-letter queue (idempotent)."""
    for etype in registry.event_types():
        exchange_for(etype.source)(channel).declare()
    for sub in registry.all_subscriptions() if subscriptions is None else subscriptions:
        for queue in handler_queues(sub):
            queue(channel).declare()


# --- connections -------------------------------------------------------------------------------------


def open_connection(*, name: str, url: str | None = None) -> Connection:
    """A connection to the broker, connected now, named `name` in RabbitMQ's management views.

    One attempt: the relay's and the consumers' loops back off between attempts (Reconnecting), where
    kombu's connect() would wait 2 s and try again on its own.
    """
    conn = Connection(
        url or broker_url(),
        connect_timeout=_conf("CONNECT_TIMEOUT_SECONDS"),
        transport_options={"client_properties": {"connection_name": name}},
    )
    conn.ensure_connection(max_retries=0, reraise_as_library_errors=False)
    return conn


# --- publishing with batched confirms --------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    body: bytes
    exchange: str
    routing_key: str
    message_id: str
    type: str
    headers: dict[str, Any]
    expiration_seconds: float | None = None


class ConfirmTimeout(Exception):
    """The broker did not confirm a batch in time: its unconfirmed messages count as not sent."""


class ConfirmingPublisher:
    """One connection and one channel in confirm mode; publish_batch() sends a batch of persistent
    messages, then waits for all of their confirms together.

    kombu's `confirm_publish` transport option (py-amqp's basic_publish_confirm) waits for each
    message's confirm before sending the next: one round trip per message. Here the channel is put
    in confirm mode once (confirm.select), every basic.publish gets the next delivery tag, and the
    broker's basic.ack/basic.nack frames (each possibly `multiple`, covering every tag up to it) are
    collected through py-amqp's channel events while draining the connection.
    """

    def __init__(self, *, name: str, url: str | None = None):
        self.name = name
        self.url = url or broker_url()
        self.conn: Connection | None = None
        self.lock = threading.Lock()

    def connect(self) -> None:
        """Connect now unless connected (publish_batch() connects on first use)."""
        with self.lock:
            if self.conn is None:
                self._connect()

    def _connect(self) -> None:
        conn = open_connection(name=self.name, url=self.url)
        try:
            channel = conn.channel()
            declare_topology(channel)
            channel.confirm_select()
        except Exception:
            # Half made (the broker went away during the set-up): the next call starts afresh.
            with contextlib.suppress(Exception):
                conn.release()
            raise
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self.channel = channel
        self.producer = Producer(channel, auto_declare=False)
        self._tag = 0  # the last delivery tag given out on this channel
        self._unconfirmed: dict[int, bool | None] = {}
        self._open = 0
        self.conn = conn

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            # A connection already lost has nothing left to close.
            with contextlib.suppress(Exception):
                conn.release()

    def _settle(self, tag: int, multiple: bool, ok: bool) -> None:
        tags = [t for t in self._unconfirmed if t <= tag] if multiple else [tag]
        for t in tags:
            if self._unconfirmed.get(t, False) is None:
                self._unconfirmed[t] = ok
                self._open -= 1

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, False)

    def publish_batch(self, messages: list[Outgoing]) -> list[bool]:
        """Publish `messages` (persistent) and wait for their confirms: True for each the broker
        confirmed, False for each it nacked. Raises a connection error (the connection is dropped and
        made again on the next call) or ConfirmTimeout; then nothing of the batch counts as sent.
        """
        with self.lock:
            if self.conn is None:
                self._connect()
            try:
                return self._publish_batch(messages)
            except Exception:
                self.close()
                raise

    def _publish_batch(self, messages: list[Outgoing]) -> list[bool]:
        first = self._tag + 1
        for m in messages:
            self.producer.publish(
                m.body,
                exchange=m.exchange,
                routing_key=m.routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                headers=m.headers,
                message_id=m.message_id,
                type=m.type,
                expiration=m.expiration_seconds,
                retry=False,
            )
            self._tag += 1
            self._unconfirmed[self._tag] = None
            self._open += 1
        deadline = time.monotonic() + _conf("CONFIRM_TIMEOUT_SECONDS")
        while self._open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfirmTimeout(f"{self._open} of {len(messages)} messages unconfirmed")
            try:
                self.conn.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        results = [bool(self._unconfirmed.pop(t)) for t in range(first, self._tag + 1)]
        return results


_publisher: ConfirmingPublisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> ConfirmingPublisher:
    """This process's publisher (relay, replays, consumer retries), connected on first use."""
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = ConfirmingPublisher(name=f"shop-bus-publisher:{socket.gethostname()}")
        return _publisher


def outgoing(envelope: core.Envelope, *, exchange: str, routing_key: str, headers: dict) -> Outgoing:
    return Outgoing(
        body=codec.dumps(envelope).encode(),
        exchange=exchange,
        routing_key=routing_key,
        message_id=str(envelope.id),
        type=envelope.type,
        headers={"x-correlation-id": envelope.correlation_id, **headers},
    )


# --- staying connected ------------------------------------------------------------------------------

# The relay's and the consumers' pause after a failed round: equal jitter from 0.2 s, at most 5 s.
RECONNECT_BASE_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0


def broker_errors() -> tuple[type[Exception], ...]:
    """What a broker that went away or cannot be reached raises (kombu names them per transport),
    and a batch it never confirmed."""
    return (*Connection(broker_url()).connection_errors, kombu_errors.OperationalError, ConfirmTimeout)


class Reconnecting:
    """The backoff and the log lines of a loop that keeps a broker connection (the relay's, a
    consumer's). After each failed round it waits (integration.backoff's equal jitter, growing with
    the failures in a row) and logs, for the broker:

    - `bus.broker_connection_lost`, once per outage: the connection broke or could not be made;
    - `bus.broker_reconnect_failed`, for each further failed attempt (`attempts`, `retry_in`);
    - `bus.broker_reconnected` once connected again, with how long the outage lasted.

    Any other failure (the database away, a bug) is logged with its traceback as `failure_event`.
    """

    def __init__(self, *, connection: str, stop: threading.Event, failure_event: str):
        self.connection = connection
        self.stop = stop
        self.failure_event = failure_event
        self.failures = 0  # rounds failed in a row, whatever failed them
        self.lost_at: float | None = None  # while the broker is away: since when

    def failed(self, exc: Exception) -> None:
        """Log a failed round and wait out its backoff (or until stopped)."""
        self.failures += 1
        retry_in = round(
            equal_jitter(attempt=self.failures, base=RECONNECT_BASE_SECONDS, cap=RECONNECT_MAX_SECONDS), 2
        )
        if not isinstance(exc, broker_errors()):
            log.error(self.failure_event, exc_info=exc, failures=self.failures, retry_in=retry_in)
        elif self.lost_at is None:
            self.lost_at = time.monotonic()
            log.warning(
                "bus.broker_connection_lost", connection=self.connection, error=repr(exc), retry_in=retry_in
            )
        else:
            log.warning(
                "bus.broker_reconnect_failed",
                connection=self.connection,
                error=repr(exc),
                attempts=self.failures,
                retry_in=retry_in,
            )
        self.stop.wait(retry_in)

    def connected(self) -> None:
        """The broker connection is up (again)."""
        if self.lost_at is not None:
            log.info(
                "bus.broker_reconnected",
                connection=self.connection,
                outage_seconds=round(time.monotonic() - self.lost_at, 1),
            )
            self.lost_at = None

    def succeeded(self) -> None:
        """A round went through: the next failure starts the backoff afresh."""
        self.failures = 0


# --- the relay ---------------------------------------------------------------------------------------


def relay_outbox(*, batch: int | None = None, pub: ConfirmingPublisher | None = None) -> int:
    """Publish one batch of undispatched outbox rows and mark the confirmed ones dispatched.

    Rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED and marked in the same transaction, after
    the broker confirmed them. Returns how many were marked (0: nothing was waiting).
    """
    pub = pub or publisher()
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("created_at")[: batch or _conf("RELAY_BATCH")]
        )
        if not rows:
            return 0
        messages = []
        for row in rows:
            envelope = core.envelope_of(row)
            messages.append(
                outgoing(envelope, exchange=f"bus.{envelope.source}", routing_key=envelope.type, headers={})
            )
        confirmed = pub.publish_batch(messages)
        sent = [row.id for row, ok in zip(rows, confirmed, strict=True) if ok]
        OutboxMessage.objects.filter(id__in=sent).update(dispatched_at=timezone.now())
    if len(sent) < len(rows):
        log.warning("bus.relay_nacked", nacked=len(rows) - len(sent))
    return len(sent)


def relay_until_empty(*, pub: ConfirmingPublisher | None = None) -> int:
    """Relay batches until none is full (beat's sweep runs this under the remote transport)."""
    sent = total = 0
    batch = _conf("RELAY_BATCH")
    while (sent := relay_outbox(batch=batch, pub=pub)) == batch:
        total += sent
    return total + sent


def run_relay(*, stop: threading.Event) -> None:
    """The relay process's loop: relay while there is work, poll every RELAY_IDLE_SECONDS otherwise;
    reconnect with backoff when the broker or the database goes away."""
    pub = ConfirmingPublisher(name=f"shop-bus-relay:{socket.gethostname()}")
    link = Reconnecting(connection=pub.name, stop=stop, failure_event="bus.relay_failed")
    try:
        while not stop.is_set():
            try:
                close_old_connections()
                pub.connect()
                link.connected()
                sent = relay_outbox(pub=pub)
                link.succeeded()
            except Exception as exc:
                link.failed(exc)
                continue
            if sent < _conf("RELAY_BATCH"):
                stop.wait(_conf("RELAY_IDLE_SECONDS"))
    finally:
        pub.close()


# --- replay under the remote transport -------------------------------------------------------------


def enqueue_delivery(
    *, delivery_id: int, queue: str, correlation_id: str, countdown: float | None = None
) -> None:
    """core.Enqueue for the remote transport: an operator's replay (or the sweep's resend of a stale
    replay) publishes the delivery's envelope straight to its handler's queue, with no attempts
    counted; the consumer marks the delivery delivered with the handler's commit.
    """
    delivery = Delivery.objects.select_related("message").get(id=delivery_id)
    envelope = core.envelope_of(delivery.message)
    message = outgoing(
        envelope,
        exchange="",
        routing_key=queue_name(delivery.handler),
        headers={DELIVERY_HEADER: delivery_id},
    )
    if not publisher().publish_batch([message])[0]:
        raise RuntimeError(f"the broker refused delivery {delivery_id}")


# --- the consumer ------------------------------------------------------------------------------------


def subscriptions_named(*, handlers: list[str] | None = None, contexts: list[str] | None = None):
    """The subscriptions a consumer runs: those named, those of the contexts named, or all."""
    subs = registry.all_subscriptions()
    if handlers:
        unknown = sorted(set(handlers) - {s.name for s in subs})
        if unknown:
            raise registry.UnknownSubscription(f"no handler is subscribed as {', '.join(unknown)}")
        subs = [s for s in subs if s.name in handlers]
    if contexts:
        subs = [s for s in subs if s.context in contexts]
    return subs


class EventConsumer:
    """Consumes the queues of `subscriptions` and runs their handlers, one message at a time."""

    def __init__(self, subscriptions: list[registry.Subscription], *, name: str = "shop-bus-consumer"):
        if not subscriptions:
            raise ValueError("a consumer needs at least one subscription")
        self.subscriptions = subscriptions
        self.name = name
        # Retries go out on a connection of their own: waiting for their confirm on the consuming
        # connection would dispatch the next deliveries from inside this one's callback.
        self.retries = ConfirmingPublisher(name=f"{name}:retries")

    def run(self, *, stop: threading.Event) -> None:
        """Consume until stopped; reconnect with backoff when the broker or the database goes away
        (unacked messages go back to their queues with the connection; the inbox absorbs a
        redelivery whose handler had committed)."""
        link = Reconnecting(connection=self.name, stop=stop, failure_event="bus.consumer_failed")
        while not stop.is_set():
            try:
                self._consume(stop, link)
            except Exception as exc:
                link.failed(exc)
        self.retries.close()

    def _consume(self, stop: threading.Event, link: Reconnecting) -> None:
        with open_connection(name=self.name) as conn:
            channel = conn.channel()
            declare_topology(channel)
            channel.basic_qos(0, _conf("CONSUMER_PREFETCH"), False)
            consumers = [
                Consumer(
                    channel,
                    queues=[handler_queues(sub)[0]],
                    on_message=self._on_message_for(sub),
                    no_ack=False,
                    auto_declare=False,
                )
                for sub in self.subscriptions
            ]
            for consumer in consumers:
                consumer.consume()
            log.info("bus.consumer_ready", handlers=[s.name for s in self.subscriptions])
            link.connected()
            link.succeeded()
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=1.0)
                except TimeoutError:
                    continue

    def _on_message_for(self, sub: registry.Subscription) -> Callable[[Any], None]:
        return lambda message: self.handle(sub, message)

    def handle(self, sub: registry.Subscription, message: Any) -> None:
        """Run the handler on one message; ack, retry later or dead-letter it."""
        headers = message.headers or {}
        close_old_connections()
        try:
            try:
                # Unreadable, it would fail the consuming loop and come back forever, holding every
                # queue of this consumer: a message that is not ours to count is malformed.
                attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
                envelope = codec.loads(core.Envelope, message.body)
            except (codec.CodecError, ValueError, TypeError) as exc:
                raise core.MalformedPayload(f"malformed message for {sub.event_type}: {exc}") from exc
        except core.MalformedPayload:
            log.exception("bus.malformed_message", handler=sub.name)
            message.reject(requeue=False)  # no envelope to keep: it stays in the dead-letter queue
            return
        try:
            core.deliver_envelope(
                handler=sub.name, envelope=envelope, delivery_id=headers.get(DELIVERY_HEADER)
            )
        except Exception as exc:  # a handler's failure, whatever it is, is counted, never lost
            self._failed(sub, message, envelope, attempts, exc)
            return
        message.ack()

    def _failed(self, sub, message, envelope: core.Envelope, attempts: int, exc: Exception) -> None:
        try:
            if isinstance(exc, core.PermanentDeliveryError) or attempts >= core._conf("MAX_ATTEMPTS"):
                core.record_dead(
                    handler=sub.name, queue=sub.context, envelope=envelope, attempts=attempts, exc=exc
                )
                message.reject(requeue=False)
                return
            retry_in = core.backoff_seconds(attempts)
            log.warning(
                "bus.delivery_failed",
                handler=sub.name,
                event_id=str(envelope.id),
                event_type=envelope.type,
                attempts=attempts,
                status=Delivery.Status.FAILED.value,
                retry_in=retry_in,
                error=str(exc)[:500],
            )
            retry = outgoing(
                envelope,
                exchange="",
                routing_key=f"{queue_name(sub.name)}.retry",
                headers={k: v for k, v in (message.headers or {}).items() if k != "x-death"}
                | {ATTEMPTS_HEADER: attempts},
            )
            retry = Outgoing(**{**retry.__dict__, "expiration_seconds": retry_in})
            if self.retries.publish_batch([retry])[0]:
                message.ack()
            else:
                message.reject(requeue=True)
        except Exception:
            # Neither counted nor recorded (the database or the broker is away): the message goes back
            # to the queue as it was; pause so a lasting outage does not spin.
            log.exception("bus.failure_not_recorded", handler=sub.name, event_id=str(envelope.id))
            message.reject(requeue=True)
            time.sleep(1.0)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT finish the message in hand, then stop."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
