"""Catalog queries that read: the storefront listing, product detail, the category tree, stock levels,
and why a reservation call changed nothing."""

import datetime as dt
import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import F, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.http import quote_etag

from contexts.catalog.data import (
    PriceData,
    ProductData,
    ProductNotFound,
    ReservationCommitted,
    ReservationConflict,
    ReservationData,
    ReservationExpired,
    ReservationNotFound,
    StockLine,
)
from contexts.catalog.models import Category, Movement, Product, Reservation, ReservationLine, Stock

# Public ordering names -> a total order (sku breaks ties), each served by an index.
ORDERINGS: dict[str, tuple[str, ...]] = {
    "price": ("price", "sku"),
    "-price": ("-price", "-sku"),
    "name": ("name", "sku"),
    "-name": ("-name", "-sku"),
    "newest": ("-created_at", "sku"),
}
DEFAULT_ORDERING = "name"


@dataclass(frozen=True, kw_only=True)
class ProductFilters:
    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    search: str | None = None
    ordering: str = DEFAULT_ORDERING


LIST_FIELDS = ("sku", "name", "slug", "price", "currency", "images")

# Every filtered listing needs a category's subtree, and the tree changes only when a category is
# created or deleted: each subtree is cached in the shared cache, stamped with the tree's generation,
# which services.category_tree_changed() moves on. One cache round trip replaces a query.
TREE_GENERATION_KEY = "catalog:tree-generation"
_SUBTREE_KEY = "catalog:subtree:{}"


def category_subtree_ids(*, slug: str) -> list[int]:
    """Ids of the category `slug` and all its descendants ([] for an unknown slug)."""
    key = _SUBTREE_KEY.format(slug)
    found = cache.get_many([TREE_GENERATION_KEY, key])
    generation = found.get(TREE_GENERATION_KEY, 0)
    cached = found.get(key)
    if cached is not None and cached[0] == generation:
        return cached[1]
    root_path = Category.objects.filter(slug=slug).values("path")[:1]
    ids = list(Category.objects.filter(path__startswith=Subquery(root_path)).values_list("id", flat=True))
    cache.set(key, (generation, ids), timeout=3600)
    return ids


def product_list(*, filters: ProductFilters) -> QuerySet:
    """Active products matching `filters`, ordered: a narrow queryset to count and to page through.

    Pages are taken as SKUs first (an index-only scan, however deep the page), then product_rows()
    loads just those rows with their joins: the deferred-join technique for offset pagination.
    """
    qs = Product.objects.filter(is_active=True)
    if filters.category:
        # The category and its descendants, resolved to ids up front so that a leaf is an equality
        # the listing index serves in order, rather than a subquery the planner must sort after.
        ids = category_subtree_ids(slug=filters.category)
        qs = qs.filter(category_id=ids[0]) if len(ids) == 1 else qs.filter(category_id__in=ids)
    if filters.min_price is not None:
        qs = qs.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        qs = qs.filter(price__lte=filters.max_price)
    if filters.in_stock is True:
        qs = qs.filter(stock__on_hand__gt=F("stock__reserved"))
    elif filters.in_stock is False:
        qs = qs.exclude(stock__on_hand__gt=F("stock__reserved"))
    if filters.search:
        qs = qs.filter(Q(name__icontains=filters.search) | Q(description__icontains=filters.search))
    return qs.order_by(*ORDERINGS[filters.ordering])


# Counting a listing costs more than the page itself once it matches many products (the whole active
# table for an unfiltered first page: ~10 ms at 100,000 products), so each filter's count is cached in
# the shared cache for COUNT_TTL_SECONDS, stamped with the listing's generation. Any product written
# through the services moves the generation on (services.products.listing_changed), so after a staff
# change every count is exact at once; what can leave a count stale, for at most COUNT_TTL_SECONDS, is
# stock moving a product in or out of an `in_stock` filter. The page's rows are never cached: a stale
# count only makes `count` and the last page's `next` link off by the products that came or went.
LISTING_GENERATION_KEY = "catalog:listing-generation"
COUNT_TTL_SECONDS = 30
_COUNT_KEY = "catalog:count:{}"


def product_count(*, filters: ProductFilters, count: Callable[[], int]) -> int:
    """How many active products match `filters`: from the shared cache, else `count()` (then cached).

    The ordering does not change a count, so every ordering of one filter shares its entry.
    """
    digest = hashlib.blake2b(repr(replace(filters, ordering=DEFAULT_ORDERING)).encode(), digest_size=16)
    key = _COUNT_KEY.format(digest.hexdigest())
    found = cache.get_many([LISTING_GENERATION_KEY, key])
    generation = found.get(LISTING_GENERATION_KEY, 0)
    cached = found.get(key)
    if cached is not None and cached[0] == generation:
        return cached[1]
    total = count()
    cache.set(key, (generation, total), timeout=COUNT_TTL_SECONDS)
    return total


class ProductSkus:
    """The SKUs of a listing, as a paginator takes them: pages are sliced from the database, the total
    comes from product_count (Django's Paginator calls count() and slices; nothing else)."""

    ordered = True

    def __init__(self, *, filters: ProductFilters):
        self.filters = filters
        self._skus = product_list(filters=filters).values_list("sku", flat=True)

    def count(self) -> int:
        return product_count(filters=self.filters, count=self._skus.count)

    def __getitem__(self, index: slice) -> QuerySet:
        return self._skus[index]


def product_rows(*, skus: list[str]) -> list[dict[str, Any]]:
    """The listing's rows for a page of SKUs, in that order, with `category_slug` and `available`
    (one query whatever the page size)."""
    if not skus:
        return []
    rows = Product.objects.filter(sku__in=skus).values(
        *LIST_FIELDS,
        category_slug=F("category__slug"),
        available=Coalesce(F("stock__on_hand") - F("stock__reserved"), Value(0)),
    )
    by_sku = {row["sku"]: row for row in rows}
    return [by_sku[sku] for sku in skus if sku in by_sku]


def product_get(*, sku: str, include_inactive: bool = False) -> Product:
    """The product with its category and stock loaded (one query), or ProductNotFound."""
    qs = Product.objects.select_related("category", "stock")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    product = qs.filter(sku=sku).first()
    if product is None:
        raise ProductNotFound([sku])
    return product


def product_etag(product: Product) -> str:
    """The strong entity tag (RFC 9110 section 8.8.3) of a product's representation, quoted: it
    changes with the product's row (`updated_at`) and with its stock, since `available` is part of the
    representation. The product must come with its stock loaded (product_get does)."""
    stock = getattr(product, "stock", None)
    parts = [product.sku, product.updated_at.isoformat()]
    if stock is not None:
        parts += [str(stock.on_hand), str(stock.reserved)]
    return quote_etag(hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest())


def product_available(product: Product) -> int:
    try:
        return product.stock.available
    except Stock.DoesNotExist:
        return 0


def product_data(product: Product) -> ProductData:
    return ProductData(
        sku=product.sku,
        name=product.name,
        slug=product.slug,
        description=product.description,
        price=product.price,
        currency=product.currency,
        category=product.category.slug if product.category_id else None,
        active=product.is_active,
        attributes=dict(product.attributes or {}),
        images=tuple(product.images or ()),
    )


def products_price(*, skus: Iterable[str]) -> list[PriceData]:
    """Current prices of sellable SKUs, in the order asked, in one query; ProductNotFound names any
    SKU that is unknown or inactive."""
    wanted = list(dict.fromkeys(skus))
    rows = {
        sku: (name, price, currency)
        for sku, name, price, currency in Product.objects.filter(sku__in=wanted, is_active=True).values_list(
            "sku", "name", "price", "currency"
        )
    }
    missing = [sku for sku in wanted if sku not in rows]
    if missing:
        raise ProductNotFound(missing)
    return [
        PriceData(sku=sku, name=rows[sku][0], unit_price=rows[sku][1], currency=rows[sku][2])
        for sku in wanted
    ]


def category_tree() -> list[dict[str, Any]]:
    """Every category as nested {slug, name, children}, from one query."""
    nodes: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    # Ordered by path, a parent always comes before its children.
    for cid, parent_id, slug, name in Category.objects.order_by("path").values_list(
        "id", "parent_id", "slug", "name"
    ):
        node = {"slug": slug, "name": name, "children": []}
        nodes[cid] = node
        (nodes[parent_id]["children"] if parent_id in nodes else roots).append(node)
    return roots


def stock_get(*, sku: str) -> Stock:
    stock = Stock.objects.filter(pk=sku).first()
    if stock is None:
        raise ProductNotFound([sku])
    return stock


def stock_ledger(*, sku: str, limit: int = 50) -> list[Movement]:
    return list(Movement.objects.filter(stock_id=sku).order_by("-id")[:limit])


# --- reservations --------------------------------------------------------------------------------------


class ReservationAction(enum.StrEnum):
    RESERVE = "reserve"
    EXTEND = "extend"
    COMMIT = "commit"
    RELEASE = "release"


# What a reservation call that changed nothing answers, by action and by the reservation's status as
# callers see it (Reservation.status_at). STORED is the idempotent answer: the reservation as it stands.
# An "active" row here can only be one inserted after the call's own statement looked (a reserve racing
# its own commit or release), which that statement did not find.
_STORED, _NOT_FOUND, _RELEASED, _EXPIRED, _COMMITTED = (
    "stored",
    "not-found",
    "released",
    "expired",
    "committed",
)
_Status = Reservation.Status
_UNCHANGED: dict[ReservationAction, dict[str, str]] = {
    ReservationAction.RESERVE: {
        _Status.ACTIVE: _STORED,
        _Status.COMMITTED: _STORED,
        _Status.RELEASED: _RELEASED,
        _Status.EXPIRED: _EXPIRED,
        _Status.RETURNED: _RELEASED,  # a sale given back: nothing is held under the key
    },
    ReservationAction.EXTEND: {
        _Status.ACTIVE: _STORED,  # already expiring at or after the time asked for
        _Status.COMMITTED: _STORED,
        _Status.RELEASED: _RELEASED,
        _Status.EXPIRED: _EXPIRED,
        _Status.RETURNED: _RELEASED,  # a sale given back: nothing is held under the key
    },
    ReservationAction.COMMIT: {
        _Status.ACTIVE: _NOT_FOUND,
        _Status.COMMITTED: _STORED,
        _Status.RELEASED: _RELEASED,
        _Status.EXPIRED: _EXPIRED,
        _Status.RETURNED: _RELEASED,  # a sale given back: nothing is held under the key
    },
    ReservationAction.RELEASE: {
        _Status.ACTIVE: _NOT_FOUND,
        _Status.COMMITTED: _COMMITTED,
        _Status.RELEASED: _STORED,
        _Status.EXPIRED: _STORED,
        _Status.RETURNED: _STORED,  # a sale given back: nothing is held under the key
    },
}


def reservation_lines(*, reservation_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Each reservation's lines, {sku: quantity} in ascending SKU order, by reservation id (one query)."""
    by_reservation: dict[int, dict[str, int]] = {rid: {} for rid in reservation_ids}
    rows = (
        ReservationLine.objects.filter(reservation_id__in=list(by_reservation))
        .order_by("sku")
        .values_list("reservation_id", "sku", "quantity")
    )
    for rid, sku, quantity in rows:
        by_reservation[rid][sku] = quantity
    return by_reservation


def reservation_unchanged(
    *,
    key: str,
    action: ReservationAction,
    now: dt.datetime,
    lines: Mapping[str, int] | None = None,
    lock: bool = False,
) -> ReservationData:
    """Why a reserve, extend, commit or release under `key` changed nothing — the one place that decides.

    Returns the reservation as stored when that is the idempotent answer (a repeated reserve or commit,
    a second release, an extend of a hold that already lasts long enough). Otherwise raises:
    ReservationNotFound (no such key, or it was released: reserve again under a new key),
    ReservationConflict (a reserve whose `lines`, {sku: quantity}, differ from the stored ones),
    ReservationExpired (its time ran out, swept or not), ReservationCommitted (a release of a sale).
    `lock` reads the row FOR UPDATE, so the answer still holds when the caller's transaction commits.
    """
    qs = Reservation.objects.select_for_update() if lock else Reservation.objects
    reservation = qs.filter(key=key).first()
    if reservation is None:
        raise ReservationNotFound(key)
    stored = reservation_lines(reservation_ids=[reservation.id])[reservation.id]
    if lines is not None and stored != dict(lines):
        raise ReservationConflict(key)
    answer = _UNCHANGED[action][reservation.status_at(now)]
    if answer == _RELEASED:
        raise ReservationNotFound(
            key, f"The reservation under key {key!r} was released; reserve under a new key."
        )
    if answer == _EXPIRED:
        raise ReservationExpired(key)
    if answer == _COMMITTED:
        raise ReservationCommitted(key)
    if answer == _NOT_FOUND:
        raise ReservationNotFound(key)
    return ReservationData(
        key=key,
        status=str(reservation.status),
        expires_at=reservation.expires_at,
        lines=tuple(StockLine(sku=sku, quantity=qty) for sku, qty in stored.items()),
    )
