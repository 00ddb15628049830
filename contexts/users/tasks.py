"""Celery tasks of the users context: thin interfaces onto its services."""

from celery import shared_task

from contexts.users import services


@shared_task(name="users.flush_expired_tokens")
def flush_expired_tokens() -> int:
    """Beat: forget refresh tokens past their expiry (and their blacklist entries); they can no longer
    be used, so their rows only grow the table that every refresh locks."""
    return services.tokens_flush_expired()
