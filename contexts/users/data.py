"""The users context's DTOs and errors: what its api hands out and raises (no models, ever)."""

import datetime as dt
import uuid
from dataclasses import dataclass

from integration.edge.problems import DomainError


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


class UsersError(DomainError):
    """Base of the users context's errors."""


class UserNotFound(UsersError, LookupError):
    status = 404
    slug = "user-not-found"
    title = "No such user."


class EmailTaken(UsersError):
    status = 400
    slug = "email-taken"
    title = "An account with this email already exists."


class InvalidCredentials(UsersError):
    status = 401
    slug = "invalid-credentials"
    title = "No active account has this email and password."


class TokenInvalid(UsersError):
    status = 401
    slug = "token-not-valid"
    title = "The token is not valid."


class TokenRevoked(TokenInvalid):
    slug = "token-revoked"
    title = "The token has been revoked."


class TokenExpired(TokenInvalid):
    slug = "token-expired"
    title = "The token has expired."
