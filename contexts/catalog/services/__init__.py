"""Catalog use cases that write, by sub-domain: products and categories, stock, reservations.

Callers keep one name for each (`services.product_update`, `services.stock_reserve`); the modules are
where a reader finds them. Every write publishes its events in its own transaction; services raise the
catalog's errors (contexts.catalog.data) or Django's ValidationError keyed by field, never a bare
ValueError or TypeError for a caller's mistake.
"""

from contexts.catalog.services.products import (
    FIELDS,
    UNCHANGED,
    category_create,
    category_delete,
    category_rename,
    category_tree_changed,
    listing_changed,
    product_create,
    product_save,
    product_update,
    products_import_csv,
    products_set_active,
)
from contexts.catalog.services.reservations import (
    MAX_LINES,
    MAX_TTL_SECONDS,
    SWEEPER_ACTOR,
    reservations_release_expired,
    stock_commit,
    stock_extend,
    stock_release,
    stock_reserve,
    stock_return,
)
from contexts.catalog.services.stock import MAX_QUANTITY, stock_adjust

__all__ = [
    "FIELDS",
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_TTL_SECONDS",
    "SWEEPER_ACTOR",
    "UNCHANGED",
    "category_create",
    "category_delete",
    "category_rename",
    "category_tree_changed",
    "listing_changed",
    "product_create",
    "product_save",
    "product_update",
    "products_import_csv",
    "products_set_active",
    "reservations_release_expired",
    "stock_adjust",
    "stock_commit",
    "stock_extend",
    "stock_release",
    "stock_reserve",
    "stock_return",
]
