"""Test events covering every type the codec supports."""

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, kw_only=True)
class Line:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class Pinged:
    EVENT_TYPE: ClassVar[str] = "testbus.Pinged.v1"
    n: int


@dataclass(frozen=True, kw_only=True)
class Recorded:
    EVENT_TYPE: ClassVar[str] = "testbus.Recorded.v1"
    of: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class Everything:
    EVENT_TYPE: ClassVar[str] = "testbus.Everything.v1"
    id: uuid.UUID
    amount: Decimal
    at: dt.datetime
    on: dt.date
    colour: Colour
    tags: tuple[str, ...]
    pair: tuple[int, str]
    lines: tuple[Line, ...]
    note: str | None = None
    ratio: float = 0.5
    flags: dict[str, bool] = field(default_factory=dict)
    active: bool = True
