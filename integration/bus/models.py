"""The bus's tables: the outbox, its deliveries, and the inbox that makes redelivery harmless.

One outbox row per published event, one delivery per subscriber of it, one inbox row per event a
handler has handled.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """A published domain event, written in the publisher's transaction: the envelope, as stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=200)
    version = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=50)
    occurred_at = models.DateTimeField()
    correlation_id = models.CharField(max_length=128, blank=True)
    causation_id = models.CharField(max_length=128, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    # Set once the relay has handed every delivery to the broker; NULL rows are what the sweep resends.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Every publish writes each index, so only what operators and the sweep search by is indexed
        # (plain btrees: equality lookups need no LIKE-pattern twins).
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_undispatched_idx",
            ),
            models.Index(fields=["type", "created_at"], name="outbox_type_idx"),
            models.Index(fields=["correlation_id"], name="outbox_correlation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event on its way to one subscriber: the delivery record operators inspect and replay."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed (retrying)"
        DEAD = "dead", "dead (needs an operator)"

    # Looked up by message through the unique (message, handler) index: no index of its own.
    message = models.ForeignKey(
        OutboxMessage, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    handler = models.CharField(max_length=200)
    queue = models.CharField(max_length=50)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message", "handler"], name="delivery_once_per_handler"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due_idx")]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.message_id} ({self.status})"


class InboxRecord(models.Model):
    """Written in the handler's own transaction: (handler, event_id) seen once means handled once."""

    handler = models.CharField(max_length=200)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handler", "event_id"], name="inbox_once_per_handler"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} handled {self.event_id}"
