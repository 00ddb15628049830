"""Celery tasks of the bus: thin interfaces over integration.bus (load ids, call, decide retry).

This module imports the bus, never the other way round: the relay learns how to enqueue a delivery
from `enqueue_delivery`, which the integration app's ready() hands to `core.configure()`.
"""

from celery import shared_task

from integration.bus import core


@shared_task(name="integration.deliver_event", ignore_result=True)
def deliver_event(delivery_id: int) -> str:
    outcome = core.deliver(delivery_id)
    core.retry_later(delivery_id, outcome)
    return outcome.status


@shared_task(name="integration.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    sent = core.sweep_outbox()
    if core.remote_transport():
        # Under the RabbitMQ transport beat relays too, so events leave even without a relay process.
        from integration.bus import rabbitmq

        sent += rabbitmq.relay_until_empty()
    return sent


def enqueue_delivery(
    *, delivery_id: int, queue: str, correlation_id: str, countdown: float | None = None
) -> None:
    """Send one delivery as a deliver_event task on the subscriber's queue (core.Enqueue).

    `countdown` is in seconds (a retry's backoff); the correlation id travels as a message header
    that the worker binds again.
    """
    deliver_event.apply_async(
        args=(delivery_id,),
        queue=queue,
        routing_key=queue,
        countdown=countdown,
        headers={"x_correlation_id": correlation_id},
    )


@shared_task(name="integration.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Keys past IDEMPOTENCY["RETENTION_SECONDS"] (beat, hourly by default)."""
    from integration.idempotency import core as idempotency

    return idempotency.keys_purge()


@shared_task(name="integration.purge_webhook_deliveries", ignore_result=True)
def purge_webhook_deliveries() -> int:
    """Forget webhook deliveries past WEBHOOKS["RETENTION_SECONDS"] (beat, daily by default)."""
    from integration import webhooks

    return webhooks.deliveries_purge()
