"""Celery signal wiring shared by every process: correlation ids across task hops, and safe reuse of
persistent database connections in workers."""

from celery import current_app, signals
from django.db import close_old_connections

from integration import correlation

HEADER = "x_correlation_id"


def tasks_run_eagerly() -> bool:
    """True in the embedded default (no broker): tasks run in-process, in the caller's thread."""
    return bool(current_app.conf.task_always_eager)


_bound: dict[str, correlation.bound] = {}


@signals.worker_init.connect(weak=False, dispatch_uid="integration.worker.start_checks")
@signals.beat_init.connect(weak=False, dispatch_uid="integration.beat.start_checks")
def _refuse_to_start_unworkable(**_):
    """A worker or beat whose settings place contexts where they cannot work does not start (Celery
    runs Django's system checks but ignores their result, and logs any exception a signal handler
    raises and goes on: only SystemExit stops it)."""
    from django.core.exceptions import ImproperlyConfigured

    from integration.checks import refuse_to_start_unworkable

    try:
        refuse_to_start_unworkable()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"ImproperlyConfigured: {exc}") from None


@signals.before_task_publish.connect(weak=False, dispatch_uid="integration.correlation.publish")
def _add_correlation_header(headers=None, **_):
    # The id of the request or task that publishes the task travels with it as a message header.
    if headers is not None and not headers.get(HEADER):
        headers[HEADER] = correlation.get() or correlation.new_id()


@signals.task_prerun.connect(weak=False, dispatch_uid="integration.correlation.prerun")
def _bind_correlation(task_id=None, task=None, **_):
    if task is None or task.request.is_eager:
        return  # an eager task runs inside its caller and keeps the caller's correlation id
    # A connection that broke or outlived CONN_MAX_AGE is replaced; a healthy one is reused.
    close_old_connections()
    ctx = correlation.bound(getattr(task.request, HEADER, None))
    ctx.__enter__()
    _bound[task_id] = ctx


@signals.task_postrun.connect(weak=False, dispatch_uid="integration.correlation.postrun")
def _unbind_correlation(task_id=None, task=None, **_):
    ctx = _bound.pop(task_id, None)
    if ctx is not None:
        ctx.__exit__(None, None, None)
    if task is not None and not task.request.is_eager:
        close_old_connections()
