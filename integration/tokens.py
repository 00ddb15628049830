"""Access tokens' claims and the shared revocation store: what every context, in any process, needs to
know a caller from a token without reading the user table.

The revocation store lives in the shared Django cache (Redis in production and tests, local memory
in the embedded default):

* a `jti` denylist: one key per revoked token, expiring when the token would have expired anyway;
* a per-user "valid after" instant: every token issued (`iat`) before it is rejected. Its source of
  truth is durable (the users context's `tokens_valid_after` column); the cache holds a copy. A cache
  miss is refilled from the registered source before the request is answered, so an evicted or lost
  entry can never make a revoked token pass; only the first request of a user after a miss pays the
  lookup. A user without a valid-after time is cached too (as 0), so the hot path is one MGET.

An unreachable store raises CacheUnavailable (transient: the edge answers 503, it never fails open).
Nothing here knows HTTP; integration.edge.auth turns tokens into DRF authentication.
"""

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from integration.errors import TransientError
from integration.logging import get_logger

log = get_logger(__name__)

ROLES_CLAIM = "roles"
_DENY_KEY = "auth:deny:{}"
_VALID_AFTER_KEY = "auth:valid-after:{}"
_NEVER_REVOKED = 0.0

# user_id -> that user's tokens_valid_after (None if never set); raises LookupError for an unknown user.
ValidAfterSource = Callable[[str], datetime | None]
_valid_after_source: ValidAfterSource | None = None


class TokenRevoked(Exception):
    """The token was revoked: its jti is denied, or it was issued before the user's valid-after time."""


class ClaimsInvalid(ValueError):
    """A verified token lacks the claims this API requires, or they have the wrong types."""


class CacheUnavailable(TransientError):
    """The shared cache (revocation store, rate-limit counters) cannot be reached: refuse, retry later."""

    code = "cache-unavailable"
    title = "Credentials cannot be checked right now; try again shortly."


@dataclass(frozen=True)
class Claims:
    """What an access token says of its bearer."""

    user_id: uuid.UUID
    roles: tuple[str, ...]


def claims_parse(claims: Mapping[str, Any]) -> Claims:
    """The caller a verified token's claims describe. ClaimsInvalid if they are missing or malformed."""
    try:
        user_id = uuid.UUID(str(claims[jwt_settings.USER_ID_CLAIM]))
        roles = claims.get(ROLES_CLAIM, [])
        issued_at = claims["iat"]
        jti = claims["jti"]
    except (KeyError, ValueError, TypeError):
        raise ClaimsInvalid("The token lacks the claims this API requires.") from None
    if (
        not isinstance(roles, list)
        or not all(isinstance(r, str) for r in roles)
        or isinstance(issued_at, bool)
        or not isinstance(issued_at, int | float)
        or not isinstance(jti, str)
    ):
        raise ClaimsInvalid("The token lacks the claims this API requires.")
    return Claims(user_id=user_id, roles=tuple(roles))


# --- the revocation store -----------------------------------------------------------------------------


def register_valid_after_source(source: ValidAfterSource) -> None:
    """Set where a missing valid-after copy is read from (the users context does, at start-up)."""
    global _valid_after_source
    _valid_after_source = source


def _valid_after_ttl() -> int:
    # After the longest token lifetime has passed, a valid-after instant can no longer reject anything
    # that `exp` does not; the entry may then go and be refilled if ever needed.
    jwt = settings.SIMPLE_JWT
    return int((jwt["REFRESH_TOKEN_LIFETIME"] + jwt["ACCESS_TOKEN_LIFETIME"]).total_seconds()) + 60


def token_deny(*, jti: str, expires_at: float) -> None:
    """Revoke one token now, in every process: its jti is denied until the token expires."""
    ttl = max(1, math.ceil(expires_at - time.time()) + 1)
    cache.set(_DENY_KEY.format(jti), 1, timeout=ttl)


def user_tokens_revoke(*, user_id: uuid.UUID | str, valid_after: datetime) -> None:
    """Reject every token of the user issued before `valid_after`; call with the durable write.

    Written at once (inside the caller's transaction) so the revocation holds from this moment, and
    again after commit: a concurrent refill from the database may have read the old value meanwhile.
    A rollback leaves the cache stricter than the database, which only logs the user out.
    """
    key, value = _VALID_AFTER_KEY.format(user_id), valid_after.timestamp()

    def write() -> None:
        cache.set(key, value, timeout=_valid_after_ttl())

    write()
    transaction.on_commit(write)


def _load_valid_after(user_id: str) -> float:
    if _valid_after_source is None:
        log.error("auth.no_valid_after_source", user_id=user_id)
        raise CacheUnavailable()
    try:
        found = _valid_after_source(user_id)
    except LookupError:
        value = math.inf  # no such user: nothing it holds is valid
    else:
        value = found.timestamp() if found is not None else _NEVER_REVOKED
    # add, not set: a revocation written meanwhile must win over what this lookup read.
    cache.add(_VALID_AFTER_KEY.format(user_id), value, timeout=_valid_after_ttl())
    return value


def ensure_not_revoked(claims: Mapping[str, Any]) -> None:
    """Raise TokenRevoked if the token's jti is denied or it predates the user's valid-after time."""
    jti, user_id, issued_at = claims["jti"], claims[jwt_settings.USER_ID_CLAIM], claims["iat"]
    deny_key, valid_after_key = _DENY_KEY.format(jti), _VALID_AFTER_KEY.format(user_id)
    try:
        found = cache.get_many([deny_key, valid_after_key])
        if deny_key in found:
            raise TokenRevoked("the token has been revoked")
        valid_after = found.get(valid_after_key)
        if valid_after is None:
            valid_after = _load_valid_after(str(user_id))
    except (TokenRevoked, CacheUnavailable):
        raise
    except Exception as exc:  # the store is down: refuse rather than let a revoked token through
        log.warning("auth.revocation_store_unavailable", error=f"{type(exc).__name__}: {exc}")
        raise CacheUnavailable() from exc
    if issued_at < valid_after:
        raise TokenRevoked("the token was issued before the user's tokens were revoked")
