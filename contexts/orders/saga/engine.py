"""A generic saga engine: runs a `Definition` (a table of steps) on state persisted in PostgreSQL.

Each step is a Celery task (`orders.run_saga_step`, `orders.compensate_saga_step`) that calls this
module; the engine alone decides, under the saga's row lock, what a result means:

    running ──success──▶ next step … ──last step──▶ completed          (definition.on_completed)
       │ business error / transient errors past the step's limit / deadline / cancel requested
       ▼
    compensating ── each touched step's compensation, in reverse ──▶ compensated (on_compensated)
       │ a compensation keeps failing
       ▼
    failed (needs attention) ──operator──▶ retry, or resolved                        (on_failed)

A message carries `(saga_id, step, attempt)`. A step runs when it is the saga's current step and the
attempt is the next one (or the same one again while in flight: a redelivery after a worker died, which
is safe because every participant call is keyed `<saga_id>:<step>`). A result is recorded only by the
attempt in flight; anything else — a duplicate, a late or out-of-order result — is ignored. A success
that arrives after the saga gave up (a deadline passed while the call was in flight) has its effect
undone by a late compensation. No message waits longer than the broker allows
(integration.bus.core.max_countdown); deadlines live in the database and beat's sweeper enforces them.
"""

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contexts.orders.models import Saga, SagaStep
from integration import correlation
from integration.backoff import equal_jitter
from integration.bus.core import max_countdown
from integration.errors import BusinessError
from integration.logging import get_logger

log = get_logger(__name__)

RUN, COMPENSATE, LATE = "run", "compensate", "late"
SagaStatus, StepStatus = Saga.Status, SagaStep.Status

# --- the definition's vocabulary --------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """How often a step is tried (the first attempt included) and the pause between attempts: equal
    jitter from `base` doubling up to `cap` seconds (scaled by ORDERS["SAGA_BACKOFF_SCALE"]).
    `unless(exc)` names transient errors that must not be retried (the step fails at once)."""

    attempts: int
    base: float
    cap: float
    unless: Callable[[BaseException], bool] | None = None

    def pause(self, attempt: int) -> float:
        scale = orders_setting("SAGA_BACKOFF_SCALE")
        seconds = equal_jitter(attempt=attempt, base=self.base * scale, cap=self.cap * scale)
        return min(seconds, max_countdown())


@dataclass(frozen=True)
class Step:
    name: str
    action: Callable[["StepContext"], dict[str, Any] | None]
    compensation: Callable[["StepContext"], None] | None
    retry: Retry
    deadline: int  # seconds from the step's first attempt
    failure: str  # the saga's failure reason when the step meets a business error


@dataclass(frozen=True)
class Definition:
    name: str
    version: int
    steps: tuple[Step, ...]
    compensation_retry: Retry
    # Seconds a compensation may stay unfinished before the sweeper sends it again.
    compensation_overdue: int
    # Called inside the transition's transaction with the locked saga.
    on_completed: Callable[[Saga], None]
    on_compensated: Callable[[Saga], None]
    on_failed: Callable[[Saga, SagaStep], None]
    # The failure reasons the engine itself gives.
    exhausted_reason: str = "provider_unavailable"
    deadline_reason: str = "timeout"

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


@dataclass(frozen=True)
class StepContext:
    """What a step's action or compensation gets: the saga, the order's snapshot and the outputs of the
    steps before it. `key()` is the participant call's idempotency key, `<saga_id>:<step>`."""

    saga_id: uuid.UUID
    step: str
    order: Any
    data: dict[str, Any] = field(default_factory=dict)

    def key(self, name: str | None = None) -> str:
        return f"{self.saga_id}:{name or self.step}"


class StepFailed(BusinessError):
    """Raised by an action to fail its step at once with a given failure reason."""

    code = "saga-step-failed"
    reason: str


_definitions: dict[int, Definition] = {}
_current: Definition | None = None


def register(definition: Definition, *, current: bool = True) -> Definition:
    global _current
    _definitions[definition.version] = definition
    if current:
        _current = definition
    return definition


def definition_of(saga: Saga) -> Definition:
    return _definitions[saga.definition_version]


def orders_setting(name: str) -> Any:
    defaults = {"SAGA_BACKOFF_SCALE": 1.0, "TEST_HOOKS": False}
    return getattr(settings, "ORDERS", {}).get(name, defaults.get(name))


# --- sending step messages ----------------------------------------------------------------------------

Scheduler = Callable[[str, uuid.UUID, str, int, float | None], None]


def _celery_scheduler(
    kind: str, saga_id: uuid.UUID, step: str, attempt: int, countdown: float | None
) -> None:
    from contexts.orders import tasks

    task = {RUN: tasks.run_saga_step, COMPENSATE: tasks.compensate_saga_step, LATE: tasks.compensate_late}[
        kind
    ]
    task.apply_async(args=(str(saga_id), step, attempt), countdown=countdown)


_scheduler: Scheduler = _celery_scheduler


def use_scheduler(scheduler: Scheduler | None) -> None:
    """Send step messages through `scheduler` instead of Celery (tests); None restores Celery."""
    global _scheduler
    _scheduler = scheduler or _celery_scheduler


def _send_after_commit(saga: Saga, kind: str, step: str, attempt: int, countdown: float | None = None):
    saga_id, correlation_id = saga.id, saga.correlation_id

    def send():
        # The saga's correlation id travels with every step message, whoever sends it (a worker,
        # the sweeper, an operator).
        with correlation.bound(correlation_id):
            _scheduler(kind, saga_id, step, attempt, countdown)

    transaction.on_commit(send)


# --- start -------------------------------------------------------------------------------------------


def saga_start(*, order: Any, definition: Definition | None = None) -> Saga:
    """Create the order's saga in the caller's transaction and send its first step after commit.

    The saga's order column is unique: a second start for the same order is an IntegrityError.
    """
    definition = definition or _current
    first = definition.steps[0]
    now = timezone.now()
    saga = Saga.objects.create(
        order=order,
        definition_version=definition.version,
        current_step=first.name,
        deadline=now + dt.timedelta(seconds=first.deadline),
        correlation_id=correlation.get() or correlation.new_id(),
    )
    SagaStep.objects.bulk_create(
        SagaStep(saga=saga, position=i, name=step.name) for i, step in enumerate(definition.steps)
    )
    _send_after_commit(saga, RUN, first.name, 1)
    return saga


# --- running a step ------------------------------------------------------------------------------------


def _locked(saga_id) -> Saga | None:
    return Saga.objects.select_for_update(of=("self",)).select_related("order").filter(id=saga_id).first()


def _row(saga: Saga, name: str) -> SagaStep:
    return SagaStep.objects.get(saga=saga, name=name)


def _may_run(row: SagaStep, attempt: int, counter: str) -> bool:
    done = getattr(row, counter)
    in_flight = row.started_at is not None and row.finished_at is None
    return (attempt == done + 1 and not in_flight) or (attempt == done and in_flight)


def _in_flight(row: SagaStep, attempt: int, counter: str) -> bool:
    return row.started_at is not None and row.finished_at is None and getattr(row, counter) == attempt


def _context(saga: Saga, step: str, order_snapshot: Callable[[Any], Any]) -> StepContext:
    return StepContext(saga_id=saga.id, step=step, order=order_snapshot(saga.order), data=dict(saga.data))


def _order_snapshot(order):
    from contexts.orders.saga.steps import order_snapshot

    return order_snapshot(order)


def _classify(exc: BaseException) -> str:
    if isinstance(exc, BusinessError | ValidationError):
        return "business"
    return "transient"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _test_pause(saga_id, step: str) -> None:
    """Test hook (ORDERS["TEST_HOOKS"]): hold a step between its participant call and the recording of
    its result while the cache key `orders:pause:<step>` is set, so a test can kill the worker there."""
    if not orders_setting("TEST_HOOKS"):
        return
    deadline = time.monotonic() + 60
    while cache.get(f"orders:pause:{step}") and time.monotonic() < deadline:
        cache.set(f"orders:paused:{saga_id}:{step}", True, 120)
        time.sleep(0.05)


def step_run(*, saga_id, step: str, attempt: int) -> str:
    """Run one attempt of a saga's step (the task `orders.run_saga_step`). Returns what happened:
    "ignored" (a duplicate or out-of-order message), or the outcome recorded."""
    with transaction.atomic():
        saga = _locked(saga_id)
        if saga is None or saga.status != SagaStatus.RUNNING or saga.current_step != step:
            return "ignored"
        row = _row(saga, step)
        if not _may_run(row, attempt, "attempts"):
            return "ignored"
        definition = definition_of(saga)
        if saga.cancel_requested:  # only while an attempt was in flight: this is its redelivery
            _begin_compensation(saga, definition, row.position, saga.cancel_requested)
            return "cancelled"
        now = timezone.now()
        if saga.deadline is not None and saga.deadline <= now:
            _fail_step(row, "the step's deadline passed")
            _begin_compensation(saga, definition, row.position, definition.deadline_reason)
            return "timeout"
        if attempt != row.attempts:  # not a redelivery of the attempt in flight
            row.attempts = attempt
            row.started_at, row.finished_at = now, None
            row.status = StepStatus.RUNNING
            row.save(update_fields=["attempts", "started_at", "finished_at", "status"])
        context = _context(saga, step, _order_snapshot)
    spec = definition.step(step)
    outputs, error = None, None
    try:
        outputs = spec.action(context) or {}
    except Exception as exc:
        error = exc
    _test_pause(saga_id, step)
    return _record_run(saga_id, step, attempt, outputs, error)


def _record_run(saga_id, step: str, attempt: int, outputs: dict | None, error: BaseException | None) -> str:
    with transaction.atomic():
        saga = _locked(saga_id)
        if saga is None:
            return "ignored"
        row = _row(saga, step)
        definition = definition_of(saga)
        current = saga.status == SagaStatus.RUNNING and saga.current_step == step
        if not current or not _in_flight(row, attempt, "attempts"):
            if error is None and saga.status != SagaStatus.RUNNING and saga.status != SagaStatus.COMPLETED:
                # The saga gave up while this call was in flight: undo what it did, on its own.
                log.warning("saga.late_success", saga_id=str(saga.id), step=step)
                _send_after_commit(saga, LATE, step, 1)
            return "ignored"
        spec = definition.step(step)
        now = timezone.now()
        if error is None:
            saga.data = {**saga.data, **outputs}
            row.status, row.finished_at, row.last_error = StepStatus.SUCCEEDED, now, ""
            row.save(update_fields=["status", "finished_at", "last_error"])
            if saga.cancel_requested:
                _begin_compensation(saga, definition, row.position, saga.cancel_requested)
                return "cancelled"
            _advance(saga, definition, row.position)
            return "succeeded"
        row.last_error = _describe(error)
        kind = _classify(error)
        exhausted = row.attempts >= spec.retry.attempts or (
            spec.retry.unless is not None and spec.retry.unless(error)
        )
        if kind == "business" or exhausted or saga.cancel_requested:
            row.status, row.finished_at = StepStatus.FAILED, now
            row.save(update_fields=["status", "finished_at", "last_error"])
            if saga.cancel_requested:
                reason = saga.cancel_requested
            elif kind == "business":
                reason = getattr(error, "reason", None) or spec.failure
            else:
                reason = definition.exhausted_reason
            _begin_compensation(saga, definition, row.position, reason)
            log.info("saga.step_failed", saga_id=str(saga.id), step=step, reason=reason, error=row.last_error)
            return kind
        # Transient: try again after a pause; the step's deadline still holds.
        row.finished_at = now
        row.save(update_fields=["finished_at", "last_error"])
        _send_after_commit(saga, RUN, step, attempt + 1, spec.retry.pause(attempt))
        return "retrying"


def _fail_step(row: SagaStep, error: str) -> None:
    row.status, row.last_error, row.finished_at = StepStatus.FAILED, error, timezone.now()
    row.save(update_fields=["status", "last_error", "finished_at"])


def _advance(saga: Saga, definition: Definition, position: int) -> None:
    now = timezone.now()
    if position + 1 < len(definition.steps):
        following = definition.steps[position + 1]
        saga.current_step = following.name
        saga.deadline = now + dt.timedelta(seconds=following.deadline)
        saga.save(update_fields=["current_step", "deadline", "data", "updated_at"])
        _send_after_commit(saga, RUN, following.name, 1)
        return
    saga.status, saga.deadline, saga.finished_at = SagaStatus.COMPLETED, None, now
    saga.save(update_fields=["status", "deadline", "finished_at", "data", "updated_at"])
    definition.on_completed(saga)
    log.info("saga.completed", saga_id=str(saga.id))


# --- compensating ----------------------------------------------------------------------------------


def _begin_compensation(saga: Saga, definition: Definition, from_position: int, reason: str) -> None:
    """Compensate every step up to `from_position` that was ever tried, newest first."""
    saga.status = SagaStatus.COMPENSATING
    saga.failure_reason = reason
    saga.save(update_fields=["status", "failure_reason", "data", "updated_at"])
    _compensate_next(saga, definition, from_position)


def _compensate_next(saga: Saga, definition: Definition, below_or_at: int) -> None:
    rows = list(
        SagaStep.objects.filter(saga=saga, position__lte=below_or_at, attempts__gt=0)
        .exclude(status=StepStatus.COMPENSATED)
        .order_by("-position")
    )
    pending = [r for r in rows if definition.step(r.name).compensation is not None]
    for row in rows:
        if row not in pending:
            row.status = StepStatus.COMPENSATED
            row.save(update_fields=["status"])
    now = timezone.now()
    if not pending:
        saga.status, saga.deadline, saga.finished_at = SagaStatus.COMPENSATED, None, now
        saga.save(update_fields=["status", "deadline", "finished_at", "updated_at"])
        definition.on_compensated(saga)
        log.info("saga.compensated", saga_id=str(saga.id), reason=saga.failure_reason)
        return
    row = pending[0]
    row.status, row.started_at, row.finished_at = StepStatus.COMPENSATING, None, None
    row.save(update_fields=["status", "started_at", "finished_at"])
    saga.current_step = row.name
    saga.deadline = now + dt.timedelta(seconds=definition.compensation_overdue)
    saga.save(update_fields=["current_step", "deadline", "updated_at"])
    _send_after_commit(saga, COMPENSATE, row.name, row.compensation_attempts + 1)


def _compensating(saga_id, step: str, attempt: int, check) -> tuple[Saga | None, SagaStep | None]:
    """The locked saga and step if `step` is the compensation under way and `check` admits `attempt`."""
    saga = _locked(saga_id)
    if saga is None or saga.status != SagaStatus.COMPENSATING or saga.current_step != step:
        return None, None
    row = _row(saga, step)
    if row.status != StepStatus.COMPENSATING or not check(row, attempt, "compensation_attempts"):
        return None, None
    return saga, row


def _give_up(saga: Saga, definition: Definition, row: SagaStep) -> None:
    """A compensation kept failing: the saga fails and the definition hands it to an operator."""
    row.status = StepStatus.COMPENSATION_FAILED
    row.save(update_fields=["status", "finished_at", "last_error"])
    saga.status, saga.deadline = SagaStatus.FAILED, None
    saga.save(update_fields=["status", "deadline", "updated_at"])
    definition.on_failed(saga, row)
    log.error("saga.compensation_failed", saga_id=str(saga.id), step=row.name, error=row.last_error)


def compensation_run(*, saga_id, step: str, attempt: int) -> str:
    """Run one attempt of a step's compensation (the task `orders.compensate_saga_step`)."""
    with transaction.atomic():
        saga, row = _compensating(saga_id, step, attempt, _may_run)
        if saga is None:
            return "ignored"
        definition = definition_of(saga)
        now = timezone.now()
        if attempt != row.compensation_attempts:
            row.compensation_attempts = attempt
            row.started_at, row.finished_at = now, None
            row.save(update_fields=["compensation_attempts", "started_at", "finished_at"])
        context = _context(saga, step, _order_snapshot)
    error = None
    try:
        definition.step(step).compensation(context)
    except Exception as exc:
        error = exc
    _test_pause(saga_id, f"{step}:compensate")
    return _record_compensation(saga_id, step, attempt, error)


def _record_compensation(saga_id, step: str, attempt: int, error: BaseException | None) -> str:
    with transaction.atomic():
        saga, row = _compensating(saga_id, step, attempt, _in_flight)
        if saga is None:
            return "ignored"
        definition = definition_of(saga)
        now = timezone.now()
        if error is None:
            row.status, row.finished_at = StepStatus.COMPENSATED, now
            row.save(update_fields=["status", "finished_at"])
            _compensate_next(saga, definition, row.position)
            return "compensated"
        row.last_error = _describe(error)
        row.finished_at = now
        if row.compensation_attempts >= definition.compensation_retry.attempts:
            _give_up(saga, definition, row)
            return "failed"
        row.save(update_fields=["finished_at", "last_error"])
        pause = definition.compensation_retry.pause(attempt)
        saga.deadline = now + dt.timedelta(seconds=pause + definition.compensation_overdue)
        saga.save(update_fields=["deadline", "updated_at"])
        _send_after_commit(saga, COMPENSATE, step, attempt + 1, pause)
        return "retrying"


def compensation_late(*, saga_id, step: str, attempt: int) -> str:
    """Undo a step whose success arrived after the saga gave up (task `orders.compensate_late`).
    Retried like any compensation; past its limit the order needs attention."""
    with transaction.atomic():
        saga = Saga.objects.select_related("order").get(id=saga_id)
        definition = definition_of(saga)
        context = _context(saga, step, _order_snapshot)
    spec = definition.step(step)
    if spec.compensation is None:
        return "nothing"
    try:
        spec.compensation(context)
        return "compensated"
    except Exception as exc:
        error = _describe(exc)
    with transaction.atomic():
        saga = _locked(saga_id)
        row = _row(saga, step)
        row.last_error = error
        if attempt >= definition.compensation_retry.attempts:
            _give_up(saga, definition, row)
            return "failed"
        row.save(update_fields=["last_error"])
        _send_after_commit(saga, LATE, step, attempt + 1, definition.compensation_retry.pause(attempt))
        return "retrying"


# --- deadlines: beat's sweeper ---------------------------------------------------------------------


def sagas_sweep(*, now: dt.datetime | None = None, batch: int = 200) -> int:
    """Fail running steps past their deadline (and compensate), and send again compensations that are
    overdue (their message was lost). Returns how many sagas it acted on. Run by beat."""
    now = now or timezone.now()
    due = list(
        Saga.objects.filter(status__in=[SagaStatus.RUNNING, SagaStatus.COMPENSATING], deadline__lte=now)
        .order_by("deadline")
        .values_list("id", "correlation_id")[:batch]
    )
    acted = 0
    for saga_id, correlation_id in due:
        with correlation.bound(correlation_id), transaction.atomic():
            saga = (
                Saga.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("order")
                .filter(id=saga_id, deadline__lte=now)
                .first()
            )
            if saga is None:
                continue
            definition = definition_of(saga)
            row = _row(saga, saga.current_step)
            if saga.status == SagaStatus.RUNNING:
                _fail_step(row, "the step's deadline passed")
                _begin_compensation(
                    saga, definition, row.position, saga.cancel_requested or definition.deadline_reason
                )
                log.warning("saga.deadline_passed", saga_id=str(saga.id), step=row.name)
            else:
                in_flight = row.started_at is not None and row.finished_at is None
                attempt = row.compensation_attempts if in_flight else row.compensation_attempts + 1
                saga.deadline = now + dt.timedelta(seconds=definition.compensation_overdue)
                saga.save(update_fields=["deadline", "updated_at"])
                _send_after_commit(saga, COMPENSATE, row.name, attempt)
                log.warning("saga.compensation_resent", saga_id=str(saga.id), step=row.name)
            acted += 1
    return acted


# --- cancellation and operators ------------------------------------------------------------------------


def saga_cancel(*, saga: Saga, reason: str) -> None:
    """Ask a locked saga to stop and compensate with `reason`. A step in flight finishes first (its
    result then starts the compensation); otherwise compensation starts now. A completed saga is
    compensated from its last step."""
    definition = definition_of(saga)
    if saga.status == SagaStatus.COMPLETED:
        _begin_compensation(saga, definition, len(definition.steps) - 1, reason)
        return
    if saga.status != SagaStatus.RUNNING or saga.cancel_requested:
        return
    saga.cancel_requested = reason
    saga.save(update_fields=["cancel_requested", "updated_at"])
    row = _row(saga, saga.current_step)
    if row.started_at is None or row.finished_at is not None:
        _begin_compensation(saga, definition, row.position, reason)


def saga_retry_current(*, saga: Saga) -> str:
    """Operator: send the current step (or compensation) again now, with a fresh set of attempts for a
    compensation that had failed. Returns what was sent."""
    definition = definition_of(saga)
    row = _row(saga, saga.current_step)
    now = timezone.now()
    if saga.status == SagaStatus.FAILED:
        row.status, row.compensation_attempts = StepStatus.COMPENSATING, 0
        row.started_at = row.finished_at = None
        row.save(update_fields=["status", "compensation_attempts", "started_at", "finished_at"])
        saga.status = SagaStatus.COMPENSATING
        saga.deadline = now + dt.timedelta(seconds=definition.compensation_overdue)
        saga.save(update_fields=["status", "deadline", "updated_at"])
        _send_after_commit(saga, COMPENSATE, row.name, 1)
        return f"compensation of {row.name}"
    in_flight = row.started_at is not None and row.finished_at is None
    if saga.status == SagaStatus.RUNNING:
        attempt = row.attempts if in_flight else row.attempts + 1
        saga.deadline = now + dt.timedelta(seconds=definition.step(row.name).deadline)
        saga.save(update_fields=["deadline", "updated_at"])
        _send_after_commit(saga, RUN, row.name, attempt)
        return f"step {row.name}"
    if saga.status == SagaStatus.COMPENSATING:
        attempt = row.compensation_attempts if in_flight else row.compensation_attempts + 1
        _send_after_commit(saga, COMPENSATE, row.name, attempt)
        return f"compensation of {row.name}"
    raise ValueError(f"a {saga.status} saga has no step to retry")


def saga_force_compensation(*, saga: Saga, reason: str) -> None:
    """Operator: stop a running or completed saga and compensate it now, whatever is in flight (a
    late success is undone on its own)."""
    definition = definition_of(saga)
    if saga.status == SagaStatus.RUNNING:
        row = _row(saga, saga.current_step)
        _fail_step(row, "compensation forced by an operator")
        _begin_compensation(saga, definition, row.position, reason)
    elif saga.status == SagaStatus.COMPLETED:
        _begin_compensation(saga, definition, len(definition.steps) - 1, reason)
    else:
        raise ValueError(f"a {saga.status} saga cannot be compensated")


def saga_mark_resolved(*, saga: Saga) -> None:
    """Operator: a failed saga was finished by hand."""
    if saga.status != SagaStatus.FAILED:
        raise ValueError(f"only a failed saga can be marked resolved, not a {saga.status} one")
    saga.status, saga.finished_at = SagaStatus.RESOLVED, timezone.now()
    saga.save(update_fields=["status", "finished_at", "updated_at"])
