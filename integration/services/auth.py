"""Service-to-service tokens: who is calling which context, signed with a shared secret, short-lived.

    token = auth.token_for(caller="orders", context="payments")   # the calling process
    caller = auth.token_verify(token, context="payments")         # the serving process: "orders"

A token is Django's TimestampSigner over {"caller": ..., "context": ...} (HMAC-SHA256 of the payload
and the time it was signed, with a salt of its own so no other signed value of the project can pass
for one). It names the calling context and the context it is meant for, so a token for catalog is
refused by payments; it expires SERVICE_TOKEN_TTL_SECONDS after it was made. A token is made per
call, so the lifetime need only cover the call's way across the network and clock skew.

SERVICE_TOKEN_SECRET holds the secret every process of the deployment shares: several, comma-separated,
while it is rotated (the first signs, any verifies). The embedded default is public and
`check --deploy` refuses it.
"""

from django.conf import settings
from django.core import signing

SCHEME = "Service"
_SALT = "integration.services.token"
# A caller that is no context's code: the edge (the token revocation store), a management command.
SHARED_CALLER = "integration"


class TokenInvalid(Exception):
    """The token is missing, malformed, wrongly signed, expired or meant for another context.
    `reason`: missing | malformed | signature | expired | context."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def secrets() -> list[str]:
    """SERVICE_TOKEN_SECRET as a list (comma-separated while rotating; the first one signs)."""
    value = settings.SERVICE_TOKEN_SECRET
    found = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in found if s.strip()]


def _signer() -> signing.TimestampSigner:
    keys = secrets()
    if not keys:
        raise TokenInvalid("signature", "SERVICE_TOKEN_SECRET is empty: no token can be made or checked")
    return signing.TimestampSigner(key=keys[0], fallback_keys=keys[1:], salt=_SALT)


def token_for(*, caller: str, context: str) -> str:
    """A token saying `caller` calls `context`, valid for SERVICE_TOKEN_TTL_SECONDS from now."""
    return _signer().sign_object({"caller": caller, "context": context})


def token_verify(token: str | None, *, context: str) -> str:
    """The calling context named by a valid token for `context`; TokenInvalid otherwise."""
    if not token:
        raise TokenInvalid("missing", f"Send `Authorization: {SCHEME} <token>`.")
    try:
        claims = _signer().unsign_object(token, max_age=settings.SERVICE_TOKEN_TTL_SECONDS)
    except signing.SignatureExpired:
        raise TokenInvalid("expired", "The service token has expired.") from None
    except signing.BadSignature:
        raise TokenInvalid("signature", "The service token is not validly signed.") from None
    except (ValueError, UnicodeDecodeError):
        raise TokenInvalid("malformed", "The service token is malformed.") from None
    if not (isinstance(claims, dict) and isinstance(claims.get("caller"), str) and claims["caller"]):
        raise TokenInvalid("malformed", "The service token names no caller.")
    if claims.get("context") != context:
        raise TokenInvalid("context", f"The service token is not meant for {context!r}.")
    return claims["caller"]
