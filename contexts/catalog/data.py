"""The catalog's data transfer objects and error types, re-exported by `api` as its public vocabulary.

They live apart from `api` so that services and selectors can build and raise them without importing
the module that calls them.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integration.errors import Conflict, ContextError, Invalid, NotFound, PreconditionFailed

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


class CatalogError(ContextError):
    """Root of the catalog's errors; each concrete one is also a business kind from integration.errors
    (which is how the edge picks its status and a saga decides to compensate)."""


class ProductNotFound(CatalogError, NotFound):
    code = "product-not-found"
    title = "No such product."
    skus: tuple[str, ...]

    def __init__(self, skus: list[str] | tuple[str, ...]):
        super().__init__(f"Unknown or inactive SKU(s): {', '.join(skus)}.", skus=tuple(skus))


class OutOfStock(CatalogError, Conflict):
    code = "out-of-stock"
    title = "Not enough stock."
    skus: tuple[str, ...]

    def __init__(self, skus: list[str] | tuple[str, ...]):
        super().__init__(f"Not enough available for: {', '.join(skus)}.", skus=tuple(skus))


class InvalidLines(CatalogError, Invalid):
    code = "invalid-stock-lines"
    title = "The stock lines are invalid."


class ReservationNotFound(CatalogError, NotFound):
    code = "reservation-not-found"
    title = "No active reservation under this key."
    key: str

    def __init__(self, key: str, detail: str = ""):
        super().__init__(detail or f"No active reservation under key {key!r}.", key=key)


class ReservationExpired(CatalogError, Conflict):
    """The reservation's time ran out (whether or not the sweeper has released it yet)."""

    code = "reservation-expired"
    title = "The reservation has expired."
    key: str

    def __init__(self, key: str):
        super().__init__(f"The reservation under key {key!r} has expired.", key=key)


class ReservationCommitted(CatalogError, Conflict):
    """Releasing a reservation that already became a sale: the goods are sold, not held."""

    code = "reservation-committed"
    title = "The reservation is already committed."
    key: str

    def __init__(self, key: str):
        super().__init__(f"The reservation under key {key!r} is already a sale.", key=key)


class ReservationNotCommitted(CatalogError, Conflict):
    """Returning a sale that was never made: the reservation is still held, released or expired."""

    code = "reservation-not-committed"
    title = "The reservation is not a sale."
    key: str
    reservation_status: str

    def __init__(self, key: str, reservation_status: str):
        super().__init__(
            f"The reservation under key {key!r} is {reservation_status}, not a sale: release it instead.",
            key=key,
            reservation_status=reservation_status,
        )


class ReservationConflict(CatalogError, Conflict):
    """A key was reused for different lines: an idempotency key names exactly one request."""

    code = "reservation-key-conflict"
    title = "This key already reserved different lines."
    key: str

    def __init__(self, key: str):
        super().__init__(f"Key {key!r} was already used to reserve different lines.", key=key)


class StockAdjustmentRejected(CatalogError, Conflict):
    code = "stock-adjustment-rejected"
    title = "The adjustment would leave less on hand than is reserved."


class ProductAlreadyExists(CatalogError, Conflict):
    code = "product-exists"
    title = "A product with this SKU or slug already exists."


class CategoryNotFound(CatalogError, Invalid):
    code = "category-not-found"
    title = "No such category."


class CategoryInUse(CatalogError, Conflict):
    """Deleting a category that still has subcategories or products (deactivated ones too)."""

    code = "category-in-use"
    title = "The category still has subcategories or products."
    slug: str

    def __init__(self, *, slug: str):
        super().__init__(
            f"Category {slug!r} still has subcategories or products; move them first.", slug=slug
        )


class StockLimitExceeded(CatalogError, Conflict):
    """A receipt or correction that would take on_hand past the most a SKU may hold (models.MAX_ON_HAND,
    kept well inside PostgreSQL's 32-bit integer)."""

    code = "stock-limit-exceeded"
    title = "The adjustment would take on hand past the limit."
    sku: str
    limit: int

    def __init__(self, *, sku: str, on_hand: int, delta: int, limit: int):
        super().__init__(
            f"{sku}: on hand {on_hand} {delta:+} would pass the limit of {limit:,}.", sku=sku, limit=limit
        )


class ProductChanged(CatalogError, PreconditionFailed):
    """A conditional write (If-Match / If-None-Match) whose condition failed: the product is not in the
    state the caller last saw (RFC 9110 section 13.1). Nothing was changed; `etag` is the current tag."""

    code = "product-changed"
    title = "The product has changed since you read it."
    sku: str
    etag: str

    def __init__(self, *, sku: str, etag: str):
        super().__init__(
            f"Product {sku} no longer matches the condition sent; read it again and reapply the change.",
            sku=sku,
            etag=etag,
        )
