"""Hand-written SQL for hot paths, portable to PostgreSQL and SQLite, named after the models.

Where the ORM's query building costs more than the query (the bus's delivery path, a checkout's
reservation), statements are written as templates: `{Stock}` is a model's quoted table and
`{Stock.reserved}` a quoted column, so names always follow the models. Templates are rendered once per
database vendor and cached. Values are prepared for the backend by the helpers below.
"""

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

# Multi-row statements are split so none exceeds a backend's parameter limit (SQLite: 32,766).
CHUNK = 500


class _Names:
    """A model's quoted SQL names: formatted bare it is the table, `.field` a column."""

    def __init__(self, model: type[Model]):
        self._meta = model._meta

    def __format__(self, spec: str) -> str:
        return connection.ops.quote_name(self._meta.db_table)

    def __getattr__(self, field: str) -> str:
        return connection.ops.quote_name(self._meta.get_field(field).column)


@functools.lru_cache(maxsize=512)
def render(template: str, vendor: str, models: tuple[type[Model], ...], **parts: str) -> str:
    """`template` with the models' names and `parts` (optional clauses, placeholder lists: templates
    themselves) filled in. `vendor` is part of the cache key: names are quoted per backend."""
    names = {m.__name__: _Names(m) for m in models}
    return template.format(**names, **{key: part.format(**names) for key, part in parts.items()})


def run(
    template: str, params: Sequence[Any], *, models: tuple[type[Model], ...], **parts: str
) -> list[tuple]:
    """Execute a template; return the rows it yields (SELECT or RETURNING), or [] if none."""
    with connection.cursor() as cursor:
        cursor.execute(render(template, connection.vendor, models, **parts), params)
        return cursor.fetchall() if cursor.description is not None else []


def marks(count: int, width: int = 1) -> str:
    """Placeholders for `count` values ("%s, %s"), or for `count` rows of `width` ("(%s, %s), (%s, %s)")."""
    if width == 1:
        return ", ".join(["%s"] * count)
    row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * count)


def chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def db_time(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def db_value(model: type[Model], field: str, value: Any) -> Any:
    """`value` prepared for `model.field` as the ORM would (UUIDs on SQLite, JSON, ...)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection, prepared=False)


def aware(value: Any) -> dt.datetime:
    """A datetime read by raw SQL: PostgreSQL hands back an aware one, SQLite naive UTC text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return timezone.make_aware(value, dt.UTC) if timezone.is_naive(value) else value


def lock_clause(*, of: str = "") -> str:
    """`FOR UPDATE [OF alias]` where the database has row locks; nothing on SQLite (whose writers the
    settings serialise with IMMEDIATE transactions)."""
    features = connection.features
    if of and features.has_select_for_update_of:
        return f" FOR UPDATE OF {of}"
    return " FOR UPDATE" if features.has_select_for_update else ""
