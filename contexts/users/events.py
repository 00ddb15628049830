"""Domain events the users context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
No secrets travel in them: never a password, hash or token. Consumers that need contact details ask
`users.api.user_contact`, so personal data stays in one place.
"""

import uuid
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class UserRegistered:
    EVENT_TYPE: ClassVar[str] = "users.UserRegistered.v1"

    user_id: uuid.UUID
    email: str
    locale: str
    marketing_opt_in: bool


@dataclass(frozen=True, kw_only=True)
class ProfileUpdated:
    """Names of the profile fields whose value changed (e.g. "phone", "shipping_address", "locale")."""

    EVENT_TYPE: ClassVar[str] = "users.ProfileUpdated.v1"

    user_id: uuid.UUID
    changed_fields: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PasswordChanged:
    """Every token the user held before this was revoked with it."""

    EVENT_TYPE: ClassVar[str] = "users.PasswordChanged.v1"

    user_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class LoggedOutEverywhere:
    """Every access and refresh token the user held was revoked (logout everywhere)."""

    EVENT_TYPE: ClassVar[str] = "users.LoggedOutEverywhere.v1"

    user_id: uuid.UUID
