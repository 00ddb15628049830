"""Catalog queries that read: the storefront listing, product detail, the category tree, stock levels."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import F, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from contexts.catalog.data import PriceData, ProductData, ProductNotFound
from contexts.catalog.models import Category, Movement, Product, Stock

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
