"""The catalog context's service interface: the only door other contexts may use besides its events.

Every function is an operation of the service interface (integration.services: callers reach it
in-process today, over HTTP once catalog is extracted, unchanged). It takes keyword arguments of plain
values or DTOs, returns frozen DTOs and raises the catalog's own errors: each a `CatalogError` and a
business error of integration.errors (NotFound, Conflict, Invalid), so a saga compensates on them.
"""

from collections.abc import Sequence

from contexts.catalog import selectors as _selectors
from contexts.catalog import services as _services
from contexts.catalog.data import (
    CatalogError,
    InvalidLines,
    OutOfStock,
    PriceData,
    ProductData,
    ProductNotFound,
    ReservationCommitted,
    ReservationConflict,
    ReservationData,
    ReservationExpired,
    ReservationNotCommitted,
    ReservationNotFound,
    StockLevel,
    StockLine,
)
from integration import services as interface

__all__ = [
    "CatalogError",
    "InvalidLines",
    "OutOfStock",
    "PriceData",
    "ProductData",
    "ProductNotFound",
    "ReservationCommitted",
    "ReservationConflict",
    "ReservationData",
    "ReservationExpired",
    "ReservationNotCommitted",
    "ReservationNotFound",
    "StockLevel",
    "StockLine",
    "product_get",
    "products_price",
    "stock_commit",
    "stock_extend",
    "stock_level",
    "stock_release",
    "stock_reserve",
    "stock_return",
]


@interface.operation("catalog", read=True)
def product_get(*, sku: str) -> ProductData:
    """An active product. ProductNotFound if the SKU is unknown or deactivated."""
    return _selectors.product_data(_selectors.product_get(sku=sku))


@interface.operation("catalog", read=True)
def products_price(*, skus: Sequence[str]) -> tuple[PriceData, ...]:
    """Unit prices of the given SKUs (in that order), in one query. ProductNotFound lists the unknown or
    inactive ones."""
    return tuple(_selectors.products_price(skus=skus))


@interface.operation("catalog", read=True)
def stock_level(*, sku: str) -> StockLevel:
    """A SKU's on hand, reserved and available units. ProductNotFound if the SKU has no stock row."""
    stock = _selectors.stock_get(sku=sku)
    return StockLevel(
        sku=stock.sku, on_hand=stock.on_hand, reserved=stock.reserved, available=stock.available
    )


@interface.operation("catalog")
def stock_reserve(*, key: str, lines: Sequence[StockLine], ttl: int) -> ReservationData:
    """Hold all `lines` for `ttl` seconds under idempotency `key` (e.g. "<saga_id>:reserve"), or none.

    OutOfStock carries the short SKUs; calling again with the same key returns the same reservation.
    """
    return _services.stock_reserve(key=key, lines=lines, ttl_seconds=ttl)


@interface.operation("catalog")
def stock_extend(*, key: str, ttl: int) -> ReservationData:
    """Keep an active reservation for `ttl` more seconds from now. ReservationExpired if too late."""
    return _services.stock_extend(key=key, ttl_seconds=ttl)


@interface.operation("catalog")
def stock_commit(*, key: str) -> ReservationData:
    """Turn the reservation into a sale (idempotent). ReservationExpired / ReservationNotFound if it is
    no longer active."""
    return _services.stock_commit(key=key)


@interface.operation("catalog")
def stock_release(*, key: str) -> ReservationData:
    """Give the reserved stock back (idempotent). ReservationCommitted if it was already sold."""
    return _services.stock_release(key=key)


@interface.operation("catalog")
def stock_return(*, key: str) -> ReservationData:
    """Give a committed reservation's goods back to stock (idempotent): an order cancelled after its
    stock was committed. ReservationNotCommitted if it was never a sale; ReservationNotFound."""
    return _services.stock_return(key=key)
