"""The users context's service interface: the only door other contexts may use besides its events.

Other contexts know the caller of a request from the token's claims (integration.edge.auth); these
functions are for what claims do not carry, e.g. notifications looking up where to send a message.
Every function takes keyword arguments, returns frozen DTOs and raises UserNotFound for an unknown id.
"""

import datetime as dt
import uuid

from contexts.users import selectors as _selectors
from contexts.users.data import AddressData, UserContact, UserDTO, UserNotFound, UsersError
from integration import services as interface

__all__ = [
    "AddressData",
    "UserContact",
    "UserDTO",
    "UserNotFound",
    "UsersError",
    "user_contact",
    "user_get",
    "user_has_role",
    "user_is_active",
    "user_tokens_valid_after",
]


@interface.operation("users", read=True)
def user_get(*, user_id: uuid.UUID) -> UserDTO:
    """The user's profile, preferences and roles."""
    return _selectors.user_dto(_selectors.user_get(user_id=user_id))


@interface.operation("users", read=True)
def user_contact(*, user_id: uuid.UUID) -> UserContact:
    """Where and how to reach the user (email, phone, locale) and whether marketing is allowed."""
    return _selectors.user_contact(_selectors.user_get(user_id=user_id))


@interface.operation("users", read=True)
def user_is_active(*, user_id: uuid.UUID) -> bool:
    """False for a deactivated account; UserNotFound if there is none."""
    return _selectors.user_get(user_id=user_id).is_active


@interface.operation("users", read=True)
def user_has_role(*, user_id: uuid.UUID, role: str) -> bool:
    """Whether the user currently holds `role` ("customer", "staff"), beyond what an older token says."""
    user = _selectors.user_get(user_id=user_id)
    return user.is_active and role in user.roles


@interface.operation("users", read=True)
def user_tokens_valid_after(*, user_id: uuid.UUID) -> dt.datetime | None:
    """Tokens of the user issued before this instant are revoked (None: no revocation yet).

    The edge's revocation store refills its shared-cache copy from here when the copy is missing.
    """
    return _selectors.user_tokens_valid_after(user_id=user_id)
