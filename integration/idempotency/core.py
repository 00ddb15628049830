"""Idempotency keys in storage: claim a key before the view runs, store its final outcome, purge old keys.

Nothing here knows DRF; `integration.idempotency.views` turns these outcomes into HTTP answers.

The protocol, per (user, key):

1. `key_claim` inserts the row in its own committed transaction before the view runs. The unique
   (user_id, key) constraint decides between concurrent requests: one inserts, the others find its
   row (PostgreSQL makes a concurrent INSERT ... ON CONFLICT wait for the first to commit).
2. The view runs outside that transaction; its services commit or roll back on their own.
3. A final outcome (2xx, 4xx) is stored with `key_complete`; anything else (5xx, an exception, a
   1xx/3xx) deletes the claim with `key_release`, so the client may retry with the same key.
4. A process killed between 1 and 3 leaves a claim nobody completes: once older than
   IDEMPOTENCY["IN_FLIGHT_SECONDS"] the next request with the key takes it over and runs the view.

Where this cannot help: a view that commits its effect and dies before step 3 is run again by the
retry that takes its stale claim over. Views that must never act twice pass the key on to keyed
services (`request.idempotency_key`), as the saga does with `saga_id:step`.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from integration.idempotency.models import IdempotencyKey
from integration.logging import get_logger
from integration.purge import purge_older

log = get_logger(__name__)

# Replayed with the stored body; everything else (X-Request-ID, Vary, CORS) belongs to the new request.
STORED_HEADERS = ("Content-Type", "Location", "ETag", "Last-Modified", "Content-Location", "Content-Language")
# Seconds a client is told to wait before retrying a key whose first request is still running.
IN_FLIGHT_RETRY_AFTER = 1

_DEFAULTS = {"RETENTION_SECONDS": 86400, "IN_FLIGHT_SECONDS": 60, "PURGE_BATCH": 5000}


def setting(name: str) -> Any:
    """One entry of settings.IDEMPOTENCY, with the documented default when it is absent."""
    return getattr(settings, "IDEMPOTENCY", {}).get(name, _DEFAULTS[name])


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the key: run the view, then complete or release with the token."""

    record_id: int
    token: uuid.UUID


@dataclass(frozen=True, slots=True)
class Replay:
    """The key's first request finished: answer with its stored response."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class InFlight:
    """The key's first request is still running (its claim is younger than IN_FLIGHT_SECONDS)."""

    retry_after: int


@dataclass(frozen=True, slots=True)
class Reused:
    """The key came first with another request (method, path or body differ)."""

    method: str
    path: str


Outcome = Claim | Replay | InFlight | Reused


def canonical_json(data: Any) -> bytes:
    """A parsed JSON value in one spelling: sorted keys, no whitespace, ASCII with \\u escapes.

    Two bodies that differ only in key order or whitespace are the same request; numbers keep the
    spelling Python's json gives them (`1` and `1.0` differ).
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """Hex SHA-256 of method, path (with its query string) and body bytes: what "the same request" means."""
    digest = hashlib.sha256()
    for part in (method.upper().encode("ascii"), path.encode("utf-8", "surrogatepass"), body):
        # Length-prefixed, so no two different (method, path, body) triples hash the same input.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def key_claim(*, user_id: str, key: str, fingerprint: str, method: str, path: str) -> Outcome:
    """Claim (user_id, key) for one request, or say why not.

    Returns Claim (run the view), Replay (the stored final answer of the same request), InFlight (the
    same key is running now) or Reused (the key was first used with a different request). A key older
    than IDEMPOTENCY["RETENTION_SECONDS"] counts as never seen, even before the purge deletes it.
    Must run in autocommit (ATOMIC_REQUESTS off): other requests only see a committed claim.
    """
    retention = timedelta(seconds=setting("RETENTION_SECONDS"))
    in_flight = timedelta(seconds=setting("IN_FLIGHT_SECONDS"))
    # Three rounds cover the races that remove a row between our INSERT and our SELECT (a release
    # after a 5xx, the purge, an expired key deleted below); each round starts afresh.
    for _ in range(3):
        now = timezone.now()
        token = uuid.uuid4()
        # One statement, so in autocommit its own committed transaction: INSERT ... ON CONFLICT DO
        # NOTHING. A concurrent insert of the same key waits for the first to commit, then does nothing.
        IdempotencyKey.objects.bulk_create(
            [
                IdempotencyKey(
                    user_id=user_id,
                    key=key,
                    method=method,
                    path=path,
                    fingerprint=fingerprint,
                    created_at=now,
                    lock_token=token,
                    locked_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        record = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
        if record is None:
            continue
        if record.lock_token == token:
            return Claim(record_id=record.pk, token=token)
        if record.created_at <= now - retention:
            IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            return Reused(method=record.method, path=record.path)
        if record.completed:
            return Replay(
                status=record.response_status,
                headers=dict(record.response_headers),
                body=bytes(record.response_body),
            )
        if record.locked_at > now - in_flight:
            return InFlight(retry_after=IN_FLIGHT_RETRY_AFTER)
        # A stale claim: its process died or was killed. Take it over unless another request just did
        # (the token changes with every takeover, so only one UPDATE can match).
        taken = IdempotencyKey.objects.filter(
            pk=record.pk, lock_token=record.lock_token, response_status__isnull=True
        ).update(lock_token=token, locked_at=now)
        if taken:
            log.warning(
                "idempotency.stale_claim_taken_over",
                user_id=user_id,
                key=key,
                locked_at=record.locked_at.isoformat(),
            )
            return Claim(record_id=record.pk, token=token)
        return InFlight(retry_after=IN_FLIGHT_RETRY_AFTER)
    return InFlight(retry_after=IN_FLIGHT_RETRY_AFTER)


def key_complete(*, claim: Claim, status: int, headers: dict[str, str], body: bytes) -> bool:
    """Store the final outcome under the claim; False if the claim was lost meanwhile.

    A claim is lost only when the view outran IN_FLIGHT_SECONDS and a retry took it over: that
    retry's outcome is the one kept, and the loss is logged, since the view then ran twice.
    """
    stored = IdempotencyKey.objects.filter(pk=claim.record_id, lock_token=claim.token).update(
        response_status=status,
        response_headers=headers,
        response_body=body,
        completed_at=timezone.now(),
        lock_token=None,
        locked_at=None,
    )
    if not stored:
        log.error("idempotency.claim_lost", record_id=claim.record_id, status=status)
    return bool(stored)


def key_release(*, claim: Claim) -> None:
    """Forget the claim (after a 5xx or an exception): the same key may be retried, with any request."""
    IdempotencyKey.objects.filter(pk=claim.record_id, lock_token=claim.token).delete()


def keys_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than IDEMPOTENCY["RETENTION_SECONDS"]; returns how many.

    In batches of IDEMPOTENCY["PURGE_BATCH"] rows, so one run never holds many row locks or one long
    transaction against the requests that are inserting keys meanwhile.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=setting("RETENTION_SECONDS"))
    return purge_older(IdempotencyKey, field="created_at", cutoff=cutoff, batch=setting("PURGE_BATCH"))
