"""Celery tasks of the orders context: each saga step is one task; beat runs the deadline sweeper.

Thin: they hand ids to the saga engine, which decides under the saga's row lock what to do (and what
to ignore). Sent with acks_late on a worker with prefetch 1: a worker killed mid-step leaves the
message to be delivered again, and the step's keyed participant call cannot act twice.
"""

from celery import shared_task

from contexts.orders.saga import definition as _definition  # noqa: F401 (registers the definitions)
from contexts.orders.saga import engine


@shared_task(name="orders.run_saga_step", ignore_result=True)
def run_saga_step(saga_id: str, step: str, attempt: int) -> str:
    return engine.step_run(saga_id=saga_id, step=step, attempt=attempt)


@shared_task(name="orders.compensate_saga_step", ignore_result=True)
def compensate_saga_step(saga_id: str, step: str, attempt: int) -> str:
    return engine.compensation_run(saga_id=saga_id, step=step, attempt=attempt)


@shared_task(name="orders.compensate_late", ignore_result=True)
def compensate_late(saga_id: str, step: str, attempt: int) -> str:
    return engine.compensation_late(saga_id=saga_id, step=step, attempt=attempt)


@shared_task(name="orders.sweep_sagas", ignore_result=True)
def sweep_sagas() -> int:
    """Fail steps past their deadline and resend overdue compensations (beat, ORDERS_SAGA_SWEEP_SECONDS)."""
    return engine.sagas_sweep()
