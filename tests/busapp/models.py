"""What the test handlers do: write one Effect row per run, so duplicate effects are countable."""

from django.db import models


class Effect(models.Model):
    handler = models.CharField(max_length=100)
    event_id = models.UUIDField()
    correlation_id = models.CharField(max_length=128, blank=True)
    # The database session that ran the handler: shows whether worker connections are reused.
    backend_pid = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.handler} ran for {self.event_id}"
