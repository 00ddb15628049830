"""The users context's DTOs and errors: what its api hands out and raises (no models, ever)."""

import datetime as dt
import uuid
from dataclasses import dataclass

from integration.errors import Conflict, ContextError, NotFound, Unauthenticated


@dataclass(frozen=True, kw_only=True)
class AddressData:
    full_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str


@dataclass(frozen=True, kw_only=True)
class UserDTO:
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    phone: str
    shipping_address: AddressData | None
    locale: str
    marketing_opt_in: bool
    email_verified: bool
    is_active: bool
    roles: tuple[str, ...]
    date_joined: dt.datetime


@dataclass(frozen=True, kw_only=True)
class UserContact:
    """What notifications need to reach a user, and whether they may send marketing."""

    user_id: uuid.UUID
    email: str
    phone: str
    full_name: str
    locale: str
    marketing_opt_in: bool
    is_active: bool


@dataclass(frozen=True, kw_only=True)
class TokenPair:
    access: str
    refresh: str


class UsersError(ContextError):
    """Root of the users context's errors; each concrete one is also a business kind from
    integration.errors (which is how the edge picks its status)."""


class UserNotFound(UsersError, NotFound, LookupError):
    code = "user-not-found"
    title = "No such user."


class EmailTaken(UsersError, Conflict):
    code = "email-taken"
    title = "An account with this email already exists."
    errors: dict[str, list[str]]


class InvalidCredentials(UsersError, Unauthenticated):
    code = "invalid-credentials"
    title = "No active account has this email and password."


class TokenInvalid(UsersError, Unauthenticated):
    code = "token-not-valid"
    title = "The token is not valid."


class TokenRevoked(TokenInvalid):
    code = "token-revoked"
    title = "The token has been revoked."


class TokenExpired(TokenInvalid):
    code = "token-expired"
    title = "The token has expired."
