"""Domain events the catalog context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class StockLineData:
    """A quantity of one SKU, as carried inside stock events."""

    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ProductCreated:
    EVENT_TYPE: ClassVar[str] = "catalog.ProductCreated.v1"

    sku: str
    name: str
    slug: str
    price: Decimal
    currency: str
    category: str | None
    active: bool


@dataclass(frozen=True, kw_only=True)
class ProductPriceChanged:
    EVENT_TYPE: ClassVar[str] = "catalog.ProductPriceChanged.v1"

    sku: str
    old_price: Decimal
    new_price: Decimal
    old_currency: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class ProductDeactivated:
    EVENT_TYPE: ClassVar[str] = "catalog.ProductDeactivated.v1"

    sku: str


@dataclass(frozen=True, kw_only=True)
class StockReserved:
    EVENT_TYPE: ClassVar[str] = "catalog.StockReserved.v1"

    key: str
    lines: tuple[StockLineData, ...]
    expires_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class StockReleased:
    EVENT_TYPE: ClassVar[str] = "catalog.StockReleased.v1"

    key: str
    lines: tuple[StockLineData, ...]


@dataclass(frozen=True, kw_only=True)
class ReservationExpired:
    EVENT_TYPE: ClassVar[str] = "catalog.ReservationExpired.v1"

    key: str
    lines: tuple[StockLineData, ...]
    expired_at: dt.datetime  # the reservation's expiry, not when the sweeper noticed


@dataclass(frozen=True, kw_only=True)
class StockCommitted:
    EVENT_TYPE: ClassVar[str] = "catalog.StockCommitted.v1"

    key: str
    lines: tuple[StockLineData, ...]


@dataclass(frozen=True, kw_only=True)
class StockReturned:
    """A sale was given back: its quantities are on hand again (an order cancelled after commit)."""

    EVENT_TYPE: ClassVar[str] = "catalog.StockReturned.v1"

    key: str
    lines: tuple[StockLineData, ...]


@dataclass(frozen=True, kw_only=True)
class OutOfStock:
    """Available (on hand minus reserved) of a SKU dropped to zero."""

    EVENT_TYPE: ClassVar[str] = "catalog.OutOfStock.v1"

    sku: str


@dataclass(frozen=True, kw_only=True)
class StockReplenished:
    """Available of a SKU rose from zero: it can be sold again."""

    EVENT_TYPE: ClassVar[str] = "catalog.StockReplenished.v1"

    sku: str
    available: int
