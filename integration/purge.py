"""Deleting rows past their retention in small batches: one run never holds many row locks, nor one
long transaction, against the requests inserting rows meanwhile."""

from datetime import datetime

from django.db.models import Model


def purge_older(model: type[Model], *, field: str, cutoff: datetime, batch: int) -> int:
    """Delete `model` rows whose `field` is before `cutoff`, `batch` rows per statement; returns how
    many were deleted. A row is checked again when deleted, so one touched meanwhile is kept."""
    purged = 0
    older = {f"{field}__lt": cutoff}
    while True:
        ids = list(model.objects.filter(**older).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return purged
        purged += model.objects.filter(pk__in=ids, **older).delete()[0]
