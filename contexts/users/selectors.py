"""Queries of the users context: users by id, the staff listing, and the DTOs its api hands out."""

import datetime as dt
import uuid

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from contexts.users.data import AddressData, UserContact, UserDTO, UserNotFound
from contexts.users.models import User


def user_get(*, user_id: uuid.UUID | str) -> User:
    try:
        return User.objects.get(id=user_id)
    except (User.DoesNotExist, ValidationError, ValueError, TypeError):  # a malformed id finds nobody either
        raise UserNotFound(f"No user has the id {user_id}.") from None


def user_list(*, search: str = "") -> QuerySet[User]:
    users = User.objects.order_by("-date_joined", "id")
    if search:
        users = users.filter(
            Q(email__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search)
        )
    return users


def user_tokens_valid_after(*, user_id: uuid.UUID | str) -> dt.datetime | None:
    """The durable revocation instant (None if never set). UserNotFound for an unknown id."""
    try:
        found = User.objects.filter(id=user_id).values_list("tokens_valid_after", flat=True)
        return found.get()
    except (User.DoesNotExist, ValidationError, ValueError, TypeError):
        raise UserNotFound(f"No user has the id {user_id}.") from None


def user_dto(user: User) -> UserDTO:
    address = user.shipping_address
    return UserDTO(
        id=user.id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        shipping_address=AddressData(**address) if address else None,
        locale=user.locale,
        marketing_opt_in=user.marketing_opt_in,
        email_verified=user.email_verified,
        is_active=user.is_active,
        roles=user.roles,
        date_joined=user.date_joined,
    )


def user_contact(user: User) -> UserContact:
    return UserContact(
        user_id=user.id,
        email=user.email,
        phone=user.phone,
        full_name=f"{user.first_name} {user.last_name}".strip(),
        locale=user.locale,
        marketing_opt_in=user.marketing_opt_in,
        is_active=user.is_active,
    )
