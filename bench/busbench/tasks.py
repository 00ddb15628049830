"""The baseline: a bare Celery task that only counts itself done (one Redis INCR)."""

from celery import shared_task
from django.core.cache import cache


@shared_task(name="benchbus.noop", ignore_result=True)
def noop() -> None:
    cache.incr("benchbus:noop")
