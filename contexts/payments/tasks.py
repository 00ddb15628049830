"""Celery tasks of the payments context: thin interfaces onto its services."""

from celery import shared_task

from contexts.payments import in_doubt


@shared_task(name="payments.settle_in_doubt", ignore_result=True)
def settle_in_doubt() -> dict[str, int]:
    """Beat: ask the provider about every payment in doubt past the grace period and act on its answer
    (contexts.payments.in_doubt). Returns how many ended in each status."""
    return in_doubt.payments_settle_in_doubt()
