"""Celery tasks of the notifications context: thin interfaces onto its services."""

import uuid

from celery import shared_task

from contexts.notifications import services
from integration.worker import tasks_run_eagerly


@shared_task(name="notifications.send_notification", ignore_result=True)
def send_notification(notification_id: str) -> str:
    """Send one queued notification; a failed attempt schedules the next after its backoff (without a
    broker, the beat sweep picks it up once it is due)."""
    outcome = services.notification_send(notification_id=uuid.UUID(notification_id))
    if outcome.retry_in is not None and not tasks_run_eagerly():
        send_notification.apply_async(args=(notification_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="notifications.send_due", ignore_result=True)
def send_due() -> int:
    """Beat: send what quiet hours held back once they are over, and what a lost task left queued."""
    return services.notifications_send_due()
