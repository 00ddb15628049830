"""Use cases of the users context that write: registration, profile, password, tokens, deactivation.

Every state change and its event are one transaction (the bus's outbox). Revocations write the
durable `tokens_valid_after` and the edge's shared revocation store together.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from contexts.users import events
from contexts.users.data import (
    EmailTaken,
    InvalidCredentials,
    TokenExpired,
    TokenInvalid,
    TokenPair,
    TokenRevoked,
    UserNotFound,
)
from contexts.users.models import User
from contexts.users.tokens import RefreshToken, token_pair_issue
from integration import bus, tokens
from integration.text import normalize_email

# What a user may change about themselves; everything else (email, roles, verification) is not theirs.
PROFILE_FIELDS = frozenset(
    {"first_name", "last_name", "phone", "shipping_address", "locale", "marketing_opt_in"}
)


def _email_taken() -> EmailTaken:
    return EmailTaken(errors={"email": ["An account with this email already exists."]})


def _password_checked(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def user_register(
    *, email: str, password: str, first_name: str = "", last_name: str = "", locale: str = "en"
) -> User:
    # One account per address however it is spelled (fullwidth letters, a Unicode domain).
    email = normalize_email(email)
    if User.objects.with_email(email).exists():
        raise _email_taken()
    _password_checked(
        password, user=User(email=email, first_name=first_name, last_name=last_name), field="password"
    )
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email, password, first_name=first_name, last_name=last_name, locale=locale
            )
            bus.publish(
                events.UserRegistered(
                    user_id=user.id,
                    email=user.email,
                    locale=user.locale,
                    marketing_opt_in=user.marketing_opt_in,
                )
            )
    except IntegrityError:  # a concurrent registration of the same email won the unique index
        raise _email_taken() from None
    return user


def _locked(user_id: uuid.UUID) -> User:
    try:
        return User.objects.select_for_update().get(id=user_id)
    except User.DoesNotExist:
        raise UserNotFound(f"No user has the id {user_id}.") from None


def user_profile_update(*, user_id: uuid.UUID, changes: Mapping[str, Any]) -> User:
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    with transaction.atomic():
        user = _locked(user_id)
        changed = sorted(name for name, value in changes.items() if getattr(user, name) != value)
        if changed:
            for name in changed:
                setattr(user, name, changes[name])
            user.save(update_fields=changed)
            bus.publish(events.ProfileUpdated(user_id=user.id, changed_fields=tuple(changed)))
    return user


def _revoke_all(user: User) -> None:
    """Within the caller's transaction: every token the user holds so far stops working."""
    now = timezone.now()
    user.tokens_valid_after = now
    user.save(update_fields=["tokens_valid_after"])
    tokens.user_tokens_revoke(user_id=user.id, valid_after=now)


def user_password_change(*, user_id: uuid.UUID, current_password: str, new_password: str) -> TokenPair:
    """Change the password, revoke every token of the user, and return a fresh pair for this client."""
    with transaction.atomic():
        user = _locked(user_id)
        if not user.check_password(current_password):
            raise ValidationError({"current_password": ["The current password is not correct."]})
        _password_checked(new_password, user=user, field="new_password")
        user.set_password(new_password)
        user.save(update_fields=["password"])
        _revoke_all(user)
        bus.publish(events.PasswordChanged(user_id=user.id))
        return token_pair_issue(user)


def user_tokens_revoke_all(*, user_id: uuid.UUID) -> None:
    """Log out everywhere: every access and refresh token issued until now is rejected."""
    with transaction.atomic():
        user = _locked(user_id)
        _revoke_all(user)
        bus.publish(events.LoggedOutEverywhere(user_id=user.id))


def user_deactivate(*, user_id: uuid.UUID) -> None:
    """An operator locks the account: no new login, and every token it holds is rejected at once."""
    with transaction.atomic():
        user = _locked(user_id)
        user.is_active = False
        user.save(update_fields=["is_active"])
        _revoke_all(user)


# --- tokens ---------------------------------------------------------------------------------------


def token_obtain(*, email: str, password: str) -> TokenPair:
    # ModelBackend hashes even for an unknown email (no timing oracle) and refuses inactive users.
    user = authenticate(request=None, email=email.strip(), password=password)
    if user is None:
        raise InvalidCredentials()
    return token_pair_issue(user)


def _refresh_decoded(raw: str) -> RefreshToken:
    try:
        token = RefreshToken(raw)
        tokens.claims_parse(token.payload)
    except ExpiredTokenError:
        raise TokenExpired() from None
    except (TokenError, tokens.ClaimsInvalid):
        raise TokenInvalid() from None
    return token


def token_refresh(*, refresh: str) -> TokenPair:
    """Rotate: the refresh token is used up (blacklisted) and a new pair issued, once per token."""
    token = _refresh_decoded(refresh)
    try:
        tokens.ensure_not_revoked(token.payload)
    except tokens.TokenRevoked:
        raise TokenRevoked() from None
    with transaction.atomic():
        # The row lock serialises concurrent rotations of this token: the second sees the blacklist.
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
        if outstanding is None:
            raise TokenInvalid()
        if BlacklistedToken.objects.filter(token=outstanding).exists():
            raise TokenRevoked()
        # Locking the user serialises this rotation with logout-all and password changes (which lock
        # it too): a revocation that committed while this request was on its way is seen here.
        user = (
            User.objects.select_for_update()
            .filter(id=token[jwt_settings.USER_ID_CLAIM], is_active=True)
            .first()
        )
        if user is None:
            raise TokenInvalid()
        if user.tokens_valid_after is not None and token["iat"] < user.tokens_valid_after.timestamp():
            raise TokenRevoked()
        BlacklistedToken.objects.create(token=outstanding)
        return token_pair_issue(user)


def token_logout(*, user_id: uuid.UUID, access_claims: Mapping[str, Any], refresh: str) -> None:
    """Revoke the access token of this request and the given refresh token (which must be the caller's)."""
    try:
        token = _refresh_decoded(refresh)
    except TokenExpired:
        token = None  # already unusable: revoking the access token is all that is left to do
    except TokenInvalid:
        raise ValidationError({"refresh": ["This is not a valid refresh token."]}) from None
    if token is not None and str(token[jwt_settings.USER_ID_CLAIM]) != str(user_id):
        raise ValidationError({"refresh": ["This refresh token belongs to another user."]})
    tokens.token_deny(jti=access_claims["jti"], expires_at=access_claims["exp"])
    if token is not None:
        token.blacklist()


def tokens_flush_expired() -> int:
    """Delete outstanding refresh tokens past their expiry; their blacklist rows go with them."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
