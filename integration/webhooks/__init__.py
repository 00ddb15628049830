"""Signed webhooks, received: the one signature scheme and delivery record every context's webhook
endpoint uses (payments' providers, shipping's carriers).

A sender signs each delivery with a shared secret:

    Shop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

the scheme the large card processors use (e.g. Stripe's `Stripe-Signature`). During a secret rotation
the header may carry several `v1=` values, and the receiver may hold several secrets: one match of any
is enough. A timestamp more than `tolerance` seconds (300 by default) from now, either way, is refused,
so a captured delivery cannot be replayed later.

    from integration import webhooks

    header = webhooks.sign(body, secret="whsec_...")                 # the sender's side
    webhooks.verify(header=header, body=body, secrets=["whsec_..."])  # raises SignatureInvalid
    if webhooks.first_delivery(source="payments.sandbox", event_id=event["id"], event_type=...):
        ...  # act on it, in the same transaction as the claim

Deliveries are idempotent by the sender's event id: `first_delivery` records (source, event id) in the
caller's transaction, so a redelivery (even a concurrent one) finds it and is answered without acting.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from integration.purge import purge_older
from integration.webhooks.models import WebhookDelivery

SIGNATURE_HEADER = "Shop-Signature"
TOLERANCE_SECONDS = 300
SCHEME = "v1"

__all__ = [
    "SCHEME",
    "SIGNATURE_HEADER",
    "TOLERANCE_SECONDS",
    "SignatureInvalid",
    "WebhookDelivery",
    "deliveries_purge",
    "first_delivery",
    "secret_list",
    "sign",
    "verify",
]


class SignatureInvalid(ValueError):
    """The delivery is not proven to come from the sender. `reason`: missing | malformed | stale |
    mismatch | unconfigured."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, *, secret: str | Iterable[str], timestamp: int | None = None) -> str:
    """The `Shop-Signature` header value for `body`: one `v1=` per secret given (a sender rotating its
    secret signs with both). `timestamp` in unix seconds, now by default."""
    t = str(int(time.time()) if timestamp is None else int(timestamp))
    secrets = [secret] if isinstance(secret, str) else list(secret)
    return ",".join([f"t={t}", *(f"{SCHEME}={_digest(s, t, body)}" for s in secrets)])


def verify(
    *,
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a `Shop-Signature` header against the raw `body`. Returns the signed timestamp (unix
    seconds). Raises SignatureInvalid when the header is missing or malformed, the timestamp is more than
    `tolerance` seconds away from `now`, or no `v1=` value matches any of `secrets` (compared in constant
    time)."""
    secrets = [s for s in secrets if s]
    if not secrets:
        raise SignatureInvalid("unconfigured", "No webhook secret is configured for this endpoint.")
    if not header:
        raise SignatureInvalid("missing", f"The {SIGNATURE_HEADER} header is missing.")
    timestamp, signatures = None, []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            timestamp = value
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureInvalid("malformed", f"The {SIGNATURE_HEADER} header has no valid t= timestamp.")
    if not signatures:
        raise SignatureInvalid("malformed", f"The {SIGNATURE_HEADER} header has no {SCHEME}= signature.")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureInvalid("stale", f"The signature's timestamp is more than {tolerance} s from now.")
    expected = [_digest(secret, timestamp, body) for secret in secrets]
    # Every pair is compared, so the time taken does not tell which secret or signature came close.
    matched = False
    for signature in signatures:
        for digest in expected:
            matched |= hmac.compare_digest(signature.encode("ascii", "replace"), digest.encode("ascii"))
    if not matched:
        raise SignatureInvalid("mismatch", "The signature does not match the body.")
    return int(timestamp)


def secret_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Secrets from a setting: a list, or one string with rotation secrets separated by commas
    ("new,old"). Empty entries are dropped."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(s.strip() for s in items if s and s.strip())


def first_delivery(*, source: str, event_id: str, event_type: str = "") -> bool:
    """Record the delivery of `event_id` from `source` (e.g. "payments.sandbox") in the current
    transaction. True the first time; False for a redelivery, which must then change nothing. Run it
    inside the transaction that acts on the event: if that rolls back, so does the record, and the
    sender's retry is handled afresh."""
    _, created = WebhookDelivery.objects.get_or_create(
        source=source[:60], event_id=event_id[:200], defaults={"event_type": event_type[:100]}
    )
    return created


def deliveries_purge(*, now: datetime | None = None) -> int:
    """Forget deliveries older than WEBHOOKS["RETENTION_SECONDS"] (longer than any sender retries: 30
    days by default); returns how many. Run by beat."""
    conf = settings.WEBHOOKS
    cutoff = (now or timezone.now()) - timedelta(seconds=conf["RETENTION_SECONDS"])
    return purge_older(WebhookDelivery, field="received_at", cutoff=cutoff, batch=conf["PURGE_BATCH"])
