"""JWT authentication at the edge, for every context: the caller from the token's claims.

Any context (in this process or extracted into its own) authenticates a request statelessly from the
access token, the shared signing key and the shared revocation store (integration.tokens); none reads
the user table. Any failure answers 401 problem+json; an unreachable revocation store answers 503
(tokens.CacheUnavailable, a transient error: fail closed).
"""

import uuid
from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from integration import tokens


class TokenUser:
    """The authenticated caller as the token describes it: an id and roles, nothing from the database."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    __slots__ = ("claims", "id", "roles")

    def __init__(self, *, id: uuid.UUID, roles: tuple[str, ...], claims: Mapping[str, Any]):
        self.id = id
        self.roles = roles
        self.claims = claims

    @property
    def pk(self) -> uuid.UUID:
        return self.id

    @property
    def is_staff(self) -> bool:
        return "staff" in self.roles

    def __str__(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"TokenUser(id={self.id}, roles={self.roles})"


# --- DRF authentication -------------------------------------------------------------------------------


def _failed(detail: str, code: str = "token_not_valid") -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code=code)


def claims_checked(claims: Mapping[str, Any]) -> TokenUser:
    """The caller a verified token's claims describe; malformed claims are a 401."""
    try:
        parsed = tokens.claims_parse(claims)
    except tokens.ClaimsInvalid as exc:
        raise _failed(str(exc)) from None
    return TokenUser(id=parsed.user_id, roles=parsed.roles, claims=claims)


class JWTAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token>`: signature (one pinned algorithm), expiry, type, revocation.

    No Bearer header means an anonymous request (public endpoints allow it, others answer 401; another
    scheme, such as a proxy's Basic credentials, is not ours to judge); a Bearer header that is present
    but wrong is always a 401, never silently anonymous.
    """

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise _failed("The Authorization header must be 'Bearer <access token>'.")
        try:
            token = AccessToken(parts[1].decode("ascii"))
        except ExpiredTokenError:
            raise _failed("The token has expired.", code="token_expired") from None
        except (TokenError, UnicodeDecodeError):
            raise _failed("The token is not valid.") from None
        user = claims_checked(token.payload)
        try:
            tokens.ensure_not_revoked(token.payload)
        except tokens.TokenRevoked:
            raise _failed("The token has been revoked.", code="token_revoked") from None
        return user, token.payload

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
