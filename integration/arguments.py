"""Checks of a service's arguments, shared by the contexts' services.

A service's type hints are not enforced: an in-process caller may pass a dict for a DTO, None for an
id or a float for a quantity (a call over the wire is decoded to the hinted types first, by
integration.codec). What a service keeps or sends on is checked before it acts, and a wrong value is
Django's ValidationError naming the field (a 400 at the edge), never an AttributeError, a database
error, or a key conflict the caller did not cause.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError

from integration.text import text_problem


def id_check(**ids: Any) -> None:
    """Refuse (ValidationError on the field) any value that is not a uuid.UUID: `id_check(order_id=...)`."""
    for field, value in ids.items():
        if not isinstance(value, uuid.UUID):
            raise ValidationError({field: ["A UUID."]})


def text_check(field: str, value: Any, limit: int, *, required: bool = True) -> None:
    """Refuse (ValidationError on `field`) what integration.text.text_problem refuses."""
    if problem := text_problem(value, limit, required=required):
        raise ValidationError({field: [problem]})


def items_problem(value: Any, item_type: type, *, max_items: int) -> str | None:
    """Why `value` is not a sequence (a tuple or list, not text or a mapping) of at most `max_items`
    instances of `item_type`, or None if it is."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        return f"A sequence of {item_type.__name__}."
    if len(value) > max_items:
        return f"At most {max_items:,} items."
    if not all(isinstance(item, item_type) for item in value):
        return f"A sequence of {item_type.__name__}."
    return None


def whole_number_problem(value: Any, *, low: int, high: int) -> str | None:
    """Why `value` is not a whole number (an int, not a bool) from `low` to `high`, or None if it is."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return None
    return f"A whole number from {low:,} to {high:,}."
