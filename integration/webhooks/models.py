"""The record of webhook deliveries handled, one row per (source, event id)."""

from django.db import models
from django.utils import timezone


class WebhookDelivery(models.Model):
    """A sender's event, handled once: its (source, event id) is unique, so a redelivery finds it."""

    source = models.CharField(max_length=60)  # "<context>.<provider or carrier>"
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="webhook_delivery_source_event_uniq")
        ]
        indexes = [models.Index(fields=["received_at"], name="webhook_delivery_received_idx")]

    def __str__(self) -> str:
        return f"{self.source} {self.event_id}"
