"""Publish, relay, deliver, sweep and replay: the transactional outbox/inbox event bus.

publish() writes the outbox row and one delivery row per subscriber in the caller's transaction.
After commit the relay hands each delivery to Celery on the subscriber's queue. deliver() runs the
handler in its own transaction together with the inbox record and the delivery's new status, so a
redelivered event has no second effect. The periodic sweep resends whatever a crash left behind.
"""

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from integration import codec, correlation, sql
from integration.backoff import equal_jitter
from integration.bus import registry
from integration.bus.models import Delivery, InboxRecord, OutboxMessage
from integration.logging import get_logger
from integration.worker import tasks_run_eagerly

log = get_logger(__name__)

Status = Delivery.Status


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """What travels with every event, in-process or over a broker. The payload is the event's JSON."""

    id: uuid.UUID
    type: str
    version: int
    occurred_at: dt.datetime
    source: str
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any]


class PermanentDeliveryError(Exception):
    """Retrying cannot help: dead-letter at once, with this message as the delivery's last_error.

    Each kind's message starts with a fixed phrase (the REASONS below) that operators filter by.
    """


class HandlerNotSubscribed(PermanentDeliveryError):
    """The delivery names a handler this process does not have: renamed or removed by a deploy."""


class EventTypeNotRegistered(PermanentDeliveryError):
    """The event's type has no class in this process: renamed, removed, or from a newer publisher."""


class MalformedPayload(PermanentDeliveryError):
    """The stored payload does not decode into its event class."""


# How last_error starts for each permanent reason: (label, regular expression), for the admin's filter.
# A handler's own failure is recorded as its traceback instead.
REASONS = {
    "handler-missing": ("handler not subscribed here", r"^handler '[^']+' is not subscribed"),
    "event-type-missing": ("event type not registered here", r"^event type '[^']+' is not registered"),
    "malformed-payload": ("malformed payload", r"^malformed payload for "),
}


def _conf(key: str) -> Any:
    return settings.BUS[key]


def remote_transport() -> bool:
    """True when events travel over RabbitMQ (BUS_TRANSPORT=rabbitmq, integration.bus.rabbitmq)
    rather than as Celery tasks: then a relay process publishes the outbox and consumers deliver."""
    return _conf("TRANSPORT") == "rabbitmq"


def max_countdown() -> float:
    """The longest delay a retry may be scheduled with.

    A countdown is held by the broker (Redis/SQS: visibility timeout) or by the worker as an unacked
    message (RabbitMQ: consumer_timeout, 30 minutes by default); past either, the message would be
    redelivered or the channel closed. Stay below both.
    """
    limit = min(settings.CELERY_VISIBILITY_TIMEOUT, settings.BROKER_CONSUMER_TIMEOUT)
    return max(1.0, limit * 0.9)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with equal jitter (integration.backoff), capped below the broker's limits."""
    return equal_jitter(
        attempt=attempts,
        base=_conf("BACKOFF_BASE_SECONDS"),
        cap=min(_conf("BACKOFF_MAX_SECONDS"), max_countdown()),
    )


# Hot paths below write their statements in SQL through integration.sql (names from these models).
_run = functools.partial(sql.run, models=(Delivery, OutboxMessage, InboxRecord))


# --- publish -----------------------------------------------------------------------------------------


def publish(event: Any) -> uuid.UUID:
    """Record `event` in the outbox within the current transaction; it is relayed after commit.

    Commit both the business change and the event, or neither. Returns the event id. Every business
    transaction that changes state calls this, so its two statements are written out in SQL.
    """
    etype = registry.event_type_of(type(event))
    now = timezone.now()
    remote = remote_transport()
    # Over RabbitMQ the broker fans the event out to its subscribers' queues: the relay process
    # publishes the outbox row once, and deliveries are written only for dead letters and replays.
    subscribers = [] if remote else registry.subscribers(etype.type_name)
    event_id = uuid.uuid4()
    correlation_id = correlation.get() or correlation.new_id()
    db_now = sql.db_time(now)
    # No savepoint: if writing the event fails, the caller's whole transaction must fail with it.
    with transaction.atomic(savepoint=False):
        _run(
            _OUTBOX_INSERT,
            [
                sql.db_value(OutboxMessage, "id", event_id),
                etype.type_name,
                etype.version,
                etype.source,
                db_now,
                correlation_id,
                correlation.get_causation() or "",
                sql.db_value(OutboxMessage, "payload", codec.to_primitive(event)),
                db_now,
                None if subscribers or remote else db_now,
            ],
        )
        if subscribers:
            message = sql.db_value(Delivery, "message", event_id)
            ids = _run(
                _DELIVERIES_INSERT,
                [
                    v
                    for s in subscribers
                    for v in (message, s.name, s.context, Status.PENDING.value, db_now, 0, "", db_now, db_now)
                ],
                rows=sql.marks(len(subscribers), 9),
            )
            sends = [(row[0], s.context, correlation_id) for row, s in zip(ids, subscribers, strict=True)]
            transaction.on_commit(lambda: dispatch_message(event_id, sends))
    return event_id


_OUTBOX_INSERT = (
    "INSERT INTO {OutboxMessage} ({OutboxMessage.id}, {OutboxMessage.type}, {OutboxMessage.version},"
    " {OutboxMessage.source}, {OutboxMessage.occurred_at}, {OutboxMessage.correlation_id},"
    " {OutboxMessage.causation_id}, {OutboxMessage.payload}, {OutboxMessage.created_at},"
    " {OutboxMessage.dispatched_at}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
# Deliveries start pending, with no attempts yet, due now; RETURNING gives the ids the relay sends.
_DELIVERIES_INSERT = (
    "INSERT INTO {Delivery} ({Delivery.message}, {Delivery.handler}, {Delivery.queue}, {Delivery.status},"
    " {Delivery.next_attempt_at}, {Delivery.attempts}, {Delivery.last_error}, {Delivery.created_at},"
    " {Delivery.updated_at}) VALUES {rows} RETURNING {Delivery.id}"
)


# --- relay -------------------------------------------------------------------------------------------


class Enqueue(Protocol):
    """Hands one delivery to the broker: a task on `queue`, run after `countdown` seconds if given."""

    def __call__(
        self, *, delivery_id: int, queue: str, correlation_id: str, countdown: float | None = None
    ) -> None: ...


# Wired once at start-up by the integration app's ready() (to integration.tasks.enqueue_delivery):
# the task module imports this one, so this one must not import it back.
_enqueue_fn: Enqueue | None = None


def configure(*, enqueue: Enqueue) -> None:
    """Set the function the relay hands deliveries to. Called from one bootstrap place, at start-up."""
    global _enqueue_fn
    _enqueue_fn = enqueue


def enqueue_function() -> Enqueue | None:
    """The function the relay hands deliveries to now (None until start-up wired one)."""
    return _enqueue_fn


@contextlib.contextmanager
def use_enqueue(enqueue: Enqueue) -> Iterator[Enqueue]:
    """Within the block, hand deliveries to `enqueue` instead (tests: record instead of sending)."""
    global _enqueue_fn
    previous = _enqueue_fn
    _enqueue_fn = enqueue
    try:
        yield enqueue
    finally:
        _enqueue_fn = previous


def _enqueue(delivery_id: int, queue: str, correlation_id: str, countdown: float | None = None) -> None:
    if _enqueue_fn is None:
        raise RuntimeError(
            "the bus has no enqueue function: integration's AppConfig.ready() wires it with"
            " core.configure(enqueue=...); is 'integration' in INSTALLED_APPS and django.setup() done?"
        )
    _enqueue_fn(delivery_id=delivery_id, queue=queue, correlation_id=correlation_id, countdown=countdown)


def _send(messages: list[OutboxMessage]) -> int:
    """Hand the pending deliveries of locked `messages` to the broker and mark them dispatched.

    Called with the messages' rows locked, so no other relay sends them. The broker publish happens
    before the commit: a crash in between means a resend (harmless: inbox), never a loss. In eager mode
    the handlers would run inside this transaction, so their execution is deferred to after commit.
    """
    if not messages:
        return 0
    by_id = {m.id: m for m in messages}
    deliveries = list(
        Delivery.objects.filter(message_id__in=by_id, status=Status.PENDING).values_list(
            "id", "queue", "message_id"
        )
    )
    sends = [(d_id, queue, by_id[m_id].correlation_id) for d_id, queue, m_id in deliveries]
    if tasks_run_eagerly():
        transaction.on_commit(lambda: [_enqueue(*s) for s in sends])
    else:
        for s in sends:
            _enqueue(*s)
    OutboxMessage.objects.filter(id__in=by_id).update(dispatched_at=timezone.now())
    return len(sends)


def dispatch_message(message_id: uuid.UUID, sends: list[tuple[int, str, str]] | None = None) -> None:
    """After-commit relay of one message. Failure here is logged, not raised: the sweep retries it.

    The publisher knows the deliveries it just wrote, so the common path is the broker publishes and
    one conditional UPDATE; a lost "dispatched" mark only means the sweep sends the event again. The
    sweep only claims rows older than its grace period, so it races with this path only when the
    relay stalled that long; the worst case is a redelivery, which the inbox absorbs.
    """
    try:
        if sends is None:
            with transaction.atomic():
                messages = list(
                    OutboxMessage.objects.select_for_update(skip_locked=True).filter(
                        id=message_id, dispatched_at__isnull=True
                    )
                )
                _send(messages)
            return
        for send in sends:
            _enqueue(*send)
        OutboxMessage.objects.filter(id=message_id, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )
    except Exception:
        log.exception("outbox.dispatch_failed", message_id=str(message_id))


def _relax_durability() -> None:
    """Let this transaction commit without waiting for the WAL flush (PostgreSQL only).

    Used for deliveries. A crash of the database loses the last few hundred milliseconds of such
    commits whole and in order, never half of one: a lost delivery (handler work, inbox row and status
    together) is still pending, the sweep sends it again, and the inbox absorbs any duplicate.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def sweep_outbox(*, grace_seconds: float | None = None, batch: int | None = None) -> int:
    """Resend what a crash left behind. Several sweepers may run at once: rows are claimed with
    SELECT ... FOR UPDATE SKIP LOCKED, so each is sent by one of them. Returns deliveries sent."""
    grace = _conf("SWEEP_GRACE_SECONDS") if grace_seconds is None else grace_seconds
    batch = batch or _conf("SWEEP_BATCH")
    sent = 0
    # Over RabbitMQ the relay publishes undispatched rows (integration.bus.rabbitmq): marking them
    # dispatched here, with no delivery to send, would lose them.
    while not remote_transport():
        cutoff = timezone.now() - dt.timedelta(seconds=grace)
        with transaction.atomic():
            messages = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(dispatched_at__isnull=True, created_at__lte=cutoff)
                .order_by("created_at")[:batch]
            )
            if not messages:
                break
            sent += _send(messages)
    sent += _requeue_stale_deliveries()
    if sent:
        log.info("outbox.swept", deliveries=sent)
    return sent


def _requeue_stale_deliveries() -> int:
    """A delivery whose task message was lost (a broker restart without persistence, a purge) is
    sent again once it is well past due. Redelivery is harmless, loss is not."""
    stale_after = dt.timedelta(seconds=max(300.0, _conf("BACKOFF_MAX_SECONDS")))
    now = timezone.now()
    requeued = 0
    with transaction.atomic():
        stale = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status__in=(Status.PENDING, Status.FAILED),
                next_attempt_at__lte=now - stale_after,
                message__dispatched_at__isnull=False,
            )
            .select_related("message")
            .order_by("next_attempt_at")[: _conf("SWEEP_BATCH")]
        )
        for d in stale:
            _enqueue(d.id, d.queue, d.message.correlation_id)
            requeued += 1
        Delivery.objects.filter(id__in=[d.id for d in stale]).update(next_attempt_at=now)
    return requeued


# --- deliver -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str
    retry_in: float | None = None
    queue: str = ""
    correlation_id: str = ""


def deliver(delivery_id: int) -> Outcome:
    """Run one delivery: handler, inbox record and status change commit together, or not at all."""
    try:
        with transaction.atomic():
            if _conf("ASYNC_COMMIT"):
                _relax_durability()
            claimed = _claim(delivery_id)
            if claimed is None:
                log.warning("bus.delivery_missing", delivery_id=delivery_id)
                return Outcome("missing")
            status, handler, envelope = claimed
            if status in (Status.DELIVERED, Status.DEAD):
                return Outcome(status)
            _handle_once(handler, envelope, delivery_id)
            return Outcome(Status.DELIVERED)
    except Exception as exc:  # a handler's failure, whatever it is, is recorded, never lost
        return _record_failure(delivery_id, exc)


def deliver_envelope(*, handler: str, envelope: Envelope, delivery_id: int | None = None) -> bool:
    """Run `handler` on an envelope that came from a broker (the RabbitMQ transport's consumer).

    The same inbox dedupe as deliver(): handler, inbox record (and the replayed delivery's status,
    when `delivery_id` names one) commit together. Returns False when the inbox already had the
    event, so the handler did not run again. Raises what the handler raised (nothing is recorded:
    the caller counts attempts), or a PermanentDeliveryError.
    """
    with transaction.atomic():
        if _conf("ASYNC_COMMIT"):
            _relax_durability()
        return _handle_once(handler, envelope, delivery_id)


def _handle_once(handler: str, envelope: Envelope, delivery_id: int | None) -> bool:
    subscription, event = _resolve(handler, envelope)
    # Marked delivered before the handler runs: it is one transaction, so a failing handler takes the
    # mark (and the inbox row) back with it.
    if not _inbox_record_and_mark_delivered(delivery_id, handler, envelope.id):
        return False
    with correlation.bound(envelope.correlation_id, causation_id=str(envelope.id)):
        subscription.handler(event, envelope)
    return True


def _resolve(handler: str, envelope: Envelope) -> tuple[registry.Subscription, Any]:
    """The subscription a delivery names and its decoded event; PermanentDeliveryError if either is
    missing from this process or the payload does not fit. Dictionary lookups only: no query."""
    try:
        subscription = registry.subscription(handler)
    except registry.UnknownSubscription:
        raise HandlerNotSubscribed(
            f"handler {handler!r} is not subscribed in this process: renamed or removed? Replay this"
            " delivery once a handler of that name is deployed (README: renaming a handler)."
        ) from None
    try:
        etype = registry.event_type_named(envelope.type)
    except registry.UnknownEventType:
        raise EventTypeNotRegistered(
            f"event type {envelope.type!r} is not registered in this process: renamed or removed?"
            " Replay this delivery once its event class is deployed again."
        ) from None
    if subscription.event_type != etype.type_name:
        # The name now belongs to a handler of another event type (say, moved to a .v2 event): calling
        # it with this event would hand it a payload it does not expect.
        raise HandlerNotSubscribed(
            f"handler {handler!r} is not subscribed to {envelope.type} in this process (it now handles"
            f" {subscription.event_type}): renamed or removed?"
        )
    try:
        return subscription, codec.from_primitive(etype.cls, envelope.payload)
    except codec.CodecError as exc:
        raise MalformedPayload(f"malformed payload for {envelope.type}: {exc}") from exc


# The delivery hot path runs once per event per subscriber, so its statements are written out in SQL
# (integration.sql, portable to PostgreSQL and SQLite): the ORM's query building cost more than the
# queries.
_CLAIM = (
    "SELECT d.{Delivery.status}, d.{Delivery.handler}, m.{OutboxMessage.id}, m.{OutboxMessage.type},"
    " m.{OutboxMessage.version}, m.{OutboxMessage.occurred_at}, m.{OutboxMessage.source},"
    " m.{OutboxMessage.correlation_id}, m.{OutboxMessage.causation_id}, m.{OutboxMessage.payload}"
    " FROM {Delivery} d JOIN {OutboxMessage} m ON m.{OutboxMessage.id} = d.{Delivery.message}"
    " WHERE d.{Delivery.id} = %s{lock}"
)


def _claim(delivery_id: int) -> tuple[str, str, Envelope] | None:
    """Lock the delivery row and read its envelope in one round trip; None if the row is gone."""
    rows = _run(_CLAIM, [delivery_id], lock=sql.lock_clause(of="d"))
    if not rows:
        return None
    status, handler, message_id, type_, version, occurred_at, source, corr, cause, payload = rows[0]
    envelope = Envelope(
        id=OutboxMessage._meta.get_field("id").to_python(message_id),
        type=type_,
        version=version,
        occurred_at=sql.aware(occurred_at),
        source=source,
        correlation_id=corr,
        causation_id=cause or None,
        payload=json.loads(payload) if isinstance(payload, str | bytes) else payload,
    )
    return status, handler, envelope


_MARK_DELIVERED = (
    "UPDATE {Delivery} SET {Delivery.status} = %s, {Delivery.attempts} = {Delivery.attempts} + 1,"
    " {Delivery.delivered_at} = %s, {Delivery.last_error} = '', {Delivery.next_attempt_at} = NULL,"
    " {Delivery.updated_at} = %s WHERE {Delivery.id} = %s"
)
_INBOX_INSERT = (
    "INSERT INTO {InboxRecord} ({InboxRecord.handler}, {InboxRecord.event_id}, {InboxRecord.processed_at})"
    " VALUES (%s, %s, %s) ON CONFLICT ({InboxRecord.handler}, {InboxRecord.event_id}) DO NOTHING"
    " RETURNING {InboxRecord.id}"
)
# PostgreSQL runs both as one statement (a data-modifying CTE): one round trip instead of two.
_MARK_DELIVERED_AND_INBOX_INSERT = "WITH mark AS (" + _MARK_DELIVERED + ") " + _INBOX_INSERT


def _inbox_record_and_mark_delivered(delivery_id: int | None, handler: str, event_id: uuid.UUID) -> bool:
    """Mark the delivery delivered (if there is one) and record (handler, event_id) in the inbox;
    False if the inbox already had it, so the handler must not run again. No savepoint: INSERT ... ON
    CONFLICT DO NOTHING returns no row for a duplicate."""
    now = sql.db_time(timezone.now())
    mark = [Status.DELIVERED.value, now, now, delivery_id]
    inbox = [handler, sql.db_value(InboxRecord, "event_id", event_id), now]
    if delivery_id is None:
        return bool(_run(_INBOX_INSERT, inbox))
    if connection.vendor == "postgresql":
        return bool(_run(_MARK_DELIVERED_AND_INBOX_INSERT, mark + inbox))
    _run(_MARK_DELIVERED, mark)
    return bool(_run(_INBOX_INSERT, inbox))


def error_detail(exc: Exception) -> str:
    """What a failed delivery's last_error keeps of `exc`.

    A permanent reason is about the wiring or the data, not a bug in the bus: its message is the whole
    story, and it leads last_error so operators can filter on it. A handler's failure keeps its
    traceback (its tail: the exception line is last).
    """
    if isinstance(exc, PermanentDeliveryError):
        return str(exc)[:4000]
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]


def _record_failure(delivery_id: int, exc: Exception) -> Outcome:
    permanent = isinstance(exc, PermanentDeliveryError)
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    detail = error_detail(exc)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",)).select_related("message").get(id=delivery_id)
        )
        if delivery.status in (Status.DELIVERED, Status.DEAD):
            return Outcome(delivery.status)
        delivery.attempts += 1
        delivery.last_error = detail
        if permanent or delivery.attempts >= _conf("MAX_ATTEMPTS"):
            delivery.status = Status.DEAD
            delivery.next_attempt_at = None
            retry_in = None
        else:
            delivery.status = Status.FAILED
            retry_in = backoff_seconds(delivery.attempts)
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in)
        delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"])
    log.warning(
        "bus.delivery_failed",
        handler=delivery.handler,
        event_id=str(delivery.message_id),
        event_type=delivery.message.type,
        attempts=delivery.attempts,
        status=delivery.status,
        error=error,
    )
    return Outcome(delivery.status, retry_in, delivery.queue, delivery.message.correlation_id)


def retry_later(delivery_id: int, outcome: Outcome) -> None:
    if outcome.retry_in is not None:
        # Eager mode has no broker to hold a countdown: the retry runs at once, still bounded.
        _enqueue(delivery_id, outcome.queue, outcome.correlation_id, countdown=outcome.retry_in)


def record_dead(*, handler: str, queue: str, envelope: Envelope, attempts: int, exc: Exception) -> int:
    """Record a broker-delivered event that a handler gave up on as a dead delivery, for the admin.

    The remote transport's consumer calls this before it dead-letters the message, in its own
    database: the envelope is kept as an outbox row (already dispatched, so no relay sends it again)
    when that database does not have it. Replaying the delivery from the admin publishes the envelope
    to the handler's queue again (integration.bus.rabbitmq.enqueue_delivery). Returns the delivery id.
    """
    now = timezone.now()
    with transaction.atomic():
        OutboxMessage.objects.get_or_create(
            id=envelope.id,
            defaults={
                "type": envelope.type,
                "version": envelope.version,
                "source": envelope.source,
                "occurred_at": envelope.occurred_at,
                "correlation_id": envelope.correlation_id,
                "causation_id": envelope.causation_id or "",
                "payload": envelope.payload,
                "dispatched_at": now,
            },
        )
        delivery, _ = Delivery.objects.update_or_create(
            message_id=envelope.id,
            handler=handler,
            defaults={
                "queue": queue,
                "status": Status.DEAD,
                "attempts": attempts,
                "last_error": error_detail(exc),
                "next_attempt_at": None,
            },
        )
    log.warning(
        "bus.delivery_failed",
        handler=handler,
        event_id=str(envelope.id),
        event_type=envelope.type,
        attempts=attempts,
        status=Status.DEAD.value,
        error="".join(traceback.format_exception_only(type(exc), exc)).strip(),
    )
    return delivery.id


def envelope_of(message: OutboxMessage) -> Envelope:
    """The envelope of a stored outbox row."""
    return Envelope(
        id=message.id,
        type=message.type,
        version=message.version,
        occurred_at=message.occurred_at,
        source=message.source,
        correlation_id=message.correlation_id,
        causation_id=message.causation_id or None,
        payload=message.payload,
    )


# --- operators ---------------------------------------------------------------------------------------


def replay(delivery_ids: list[int]) -> int:
    """Give dead or failed deliveries a fresh set of attempts and send them again after commit."""
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(of=("self",))
            .filter(id__in=delivery_ids)
            .filter(Q(status=Status.DEAD) | Q(status=Status.FAILED))
            .select_related("message")
            .order_by("id")
        )
        now = timezone.now()
        for d in rows:
            d.status = Status.PENDING
            d.attempts = 0
            d.next_attempt_at = now
            d.updated_at = now
        Delivery.objects.bulk_update(rows, ["status", "attempts", "next_attempt_at", "updated_at"])
        sends = [(d.id, d.queue, d.message.correlation_id) for d in rows]
        transaction.on_commit(lambda: [_enqueue(*s) for s in sends])
    log.info("bus.replayed", deliveries=len(rows))
    return len(rows)


def outbox_lag_seconds() -> float:
    """Age of the oldest undispatched event: 0 when the relay is keeping up."""
    oldest = (
        OutboxMessage.objects.filter(dispatched_at__isnull=True)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


def event_fields(cls: type) -> list[tuple[str, str]]:
    """(name, type) of an event class's fields, for the event catalogue."""
    hints = codec._hints(cls)
    return [(f.name, _type_label(hints[f.name])) for f in dataclasses.fields(cls)]


def _type_label(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return (
        str(tp).replace("typing.", "").replace("datetime.", "").replace("decimal.", "").replace("uuid.", "")
    )
