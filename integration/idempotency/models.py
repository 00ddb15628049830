"""The idempotency table: one row per (caller, key), first an in-flight claim, then the final outcome.

A row is written in its own committed transaction before the view runs (the claim: `lock_token` and
`locked_at` set, no response) and completed after it (the stored response, no lock). The unique
(user_id, key) constraint is what makes two concurrent requests with one key run the view once.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key: the request it first came with and, once final, that request's answer."""

    # The authenticated caller's id, as text: keys are per user, and the users context's key type is
    # its own business (integration imports no context).
    user_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    # Path and query string of the first request, for operators; the comparison uses `fingerprint`.
    path = models.TextField()
    # Hex SHA-256 of method, path and body (integration.idempotency.core.request_fingerprint).
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # While the first request runs: who holds the claim and since when. A claim older than
    # IDEMPOTENCY["IN_FLIGHT_SECONDS"] belongs to a process that died and may be taken over.
    lock_token = models.UUIDField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    # The final outcome (2xx or 4xx), replayed byte for byte with the headers in core.STORED_HEADERS.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "idempotency key"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_user_key_uniq"),
            # Exactly one of the two states: claimed and running, or completed with a final answer.
            models.CheckConstraint(
                condition=Q(response_status__isnull=True, lock_token__isnull=False, locked_at__isnull=False)
                | Q(response_status__isnull=False, lock_token__isnull=True),
                name="idempotency_claimed_xor_completed",
            ),
            # Only final outcomes are stored: a 5xx (or a 1xx/3xx) releases the key instead.
            models.CheckConstraint(
                condition=Q(response_status__isnull=True)
                | Q(response_status__gte=200, response_status__lt=300)
                | Q(response_status__gte=400, response_status__lt=500),
                name="idempotency_final_status",
            ),
        ]
        # The purge deletes by age; lookups use the unique (user_id, key) index.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"

    @property
    def completed(self) -> bool:
        return self.response_status is not None
