"""Celery tasks of the bus: thin interfaces over integration.bus (load ids, call, decide retry)."""

from celery import shared_task

from integration.bus import core


@shared_task(name="integration.deliver_event", ignore_result=True)
def deliver_event(delivery_id: int) -> str:
    outcome = core.deliver(delivery_id)
    core.retry_later(delivery_id, outcome)
    return outcome.status


@shared_task(name="integration.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    return core.sweep_outbox()
