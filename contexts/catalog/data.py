"""The catalog's data transfer objects and error types, re-exported by `api` as its public vocabulary.

They live apart from `api` so that services and selectors can build and raise them without importing
the module that calls them.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integration.edge.problems import DomainError

# --- DTOs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProductData:
    sku: str
    name: str
    slug: str
    description: str
    price: Decimal
    currency: str
    category: str | None  # the category's slug
    active: bool
    attributes: dict[str, Any] = field(default_factory=dict)
    images: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PriceData:
    """The current unit price of a sellable SKU."""

    sku: str
    name: str
    unit_price: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class StockLine:
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ReservationData:
    key: str
    status: str  # active | committed | released | expired
    expires_at: dt.datetime
    lines: tuple[StockLine, ...]


@dataclass(frozen=True, kw_only=True)
class StockLevel:
    sku: str
    on_hand: int
    reserved: int
    available: int


# --- errors -----------------------------------------------------------------------------------------


class CatalogError(DomainError):
    """Base of the catalog's business errors (each maps to one problem+json type at the edge)."""


class ProductNotFound(CatalogError):
    status = 404
    slug = "product-not-found"
    title = "No such product."

    def __init__(self, skus: list[str] | tuple[str, ...]):
        self.skus = tuple(skus)
        super().__init__(f"Unknown or inactive SKU(s): {', '.join(self.skus)}.", skus=list(self.skus))


class OutOfStock(CatalogError):
    status = 409
    slug = "out-of-stock"
    title = "Not enough stock."

    def __init__(self, skus: list[str] | tuple[str, ...]):
        self.skus = tuple(skus)
        super().__init__(f"Not enough available for: {', '.join(self.skus)}.", skus=list(self.skus))


class InvalidLines(CatalogError):
    status = 422
    slug = "invalid-stock-lines"
    title = "The stock lines are invalid."


class ReservationNotFound(CatalogError):
    status = 404
    slug = "reservation-not-found"
    title = "No active reservation under this key."

    def __init__(self, key: str, detail: str = ""):
        self.key = key
        super().__init__(detail or f"No active reservation under key {key!r}.", key=key)


class ReservationExpired(ReservationNotFound):
    """The reservation's time ran out (whether or not the sweeper has released it yet)."""

    status = 409
    slug = "reservation-expired"
    title = "The reservation has expired."

    def __init__(self, key: str):
        super().__init__(key, f"The reservation under key {key!r} has expired.")


class ReservationCommitted(CatalogError):
    """Releasing a reservation that already became a sale: the goods are sold, not held."""

    status = 409
    slug = "reservation-committed"
    title = "The reservation is already committed."

    def __init__(self, key: str):
        self.key = key
        super().__init__(f"The reservation under key {key!r} is already a sale.", key=key)


class ReservationConflict(CatalogError):
    """A key was reused for different lines: an idempotency key names exactly one request."""

    status = 409
    slug = "reservation-key-conflict"
    title = "This key already reserved different lines."

    def __init__(self, key: str):
        self.key = key
        super().__init__(f"Key {key!r} was already used to reserve different lines.", key=key)


class StockAdjustmentRejected(CatalogError):
    status = 409
    slug = "stock-adjustment-rejected"
    title = "The adjustment would leave less on hand than is reserved."


class ProductAlreadyExists(CatalogError):
    status = 409
    slug = "product-exists"
    title = "A product with this SKU or slug already exists."


class CategoryNotFound(CatalogError):
    status = 422
    slug = "category-not-found"
    title = "No such category."
