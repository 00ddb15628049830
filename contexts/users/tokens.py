"""The JWTs the users context issues: simplejwt's tokens with a roles claim and a sub-second `iat`.

Every context checks them at the edge (integration.edge.auth) from the claims alone: `user_id`,
`roles`, `iat`, `exp`, `jti`, `token_type`.
"""

from rest_framework_simplejwt import tokens as jwt_tokens
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from contexts.users.data import TokenPair
from contexts.users.models import User
from integration.tokens import ROLES_CLAIM


class _PreciseIssuedAt:
    def set_iat(self, claim: str = "iat", at_time=None) -> None:
        # Revocation compares `iat` with a valid-after instant. In whole seconds, a token issued just
        # after a logout-all or password change, within the same second, would look older than it is.
        # RFC 7519 NumericDates may carry fractions.
        self.payload[claim] = round((at_time or self.current_time).timestamp(), 6)


class AccessToken(_PreciseIssuedAt, jwt_tokens.AccessToken):
    pass


class RefreshToken(_PreciseIssuedAt, jwt_tokens.RefreshToken):
    access_token_class = AccessToken

    def verify(self) -> None:
        # The blacklist is checked by services.token_refresh under a row lock, so that two concurrent
        # rotations of one token cannot both succeed; not here on every decode.
        jwt_tokens.Token.verify(self)


def token_pair_issue(user: User) -> TokenPair:
    """A new access + refresh pair for the user, the refresh token recorded as outstanding."""
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(user.id)
    refresh[ROLES_CLAIM] = list(user.roles)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))
