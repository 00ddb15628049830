"""Celery tasks of the catalog context: thin interfaces onto its services."""

from celery import shared_task

from contexts.catalog import services


@shared_task(name="catalog.release_expired_reservations")
def release_expired_reservations() -> int:
    """Beat: give back the stock of every reservation past its expiry (publishes ReservationExpired)."""
    return services.reservations_release_expired()
