"""Products and the category tree: what the staff API, the admin and the CSV import change.

All three write through these functions with the same names for a product's fields (FIELDS), so a rule
about a product — money in its currency's minor units, a new currency needs its price, the images — is
enforced here once, whoever sends the change. Field errors are Django's ValidationError keyed by those
names; the catalog's own errors say what else went wrong.
"""

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.text import slugify

from contexts.catalog import events, selectors
from contexts.catalog.data import (
    CatalogError,
    CategoryInUse,
    CategoryNotFound,
    ProductAlreadyExists,
    ProductChanged,
    ProductNotFound,
)
from contexts.catalog.forms import ProductFieldsForm
from contexts.catalog.models import Category, Product, Stock
from integration import bus

# A product's writable fields as every writer names them (the API's JSON, the admin's form, the CSV's
# columns) and as product_create / product_update take them; `sku` names the product itself.
FIELDS: Final = (
    "name",
    "slug",
    "description",
    "price",
    "currency",
    "category",
    "active",
    "attributes",
    "images",
)


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


# product_update's default for a field it must leave alone (None is a value: "no category").
UNCHANGED: Final[Any] = _Unchanged()


# --- the category tree ---------------------------------------------------------------------------------


def _generation_bump(key: str) -> None:
    """Move a cache generation on at once and again after commit, so that a reader who cached from the
    old state in between cannot keep it."""

    def bump() -> None:
        cache.set(key, uuid.uuid4().hex, timeout=None)

    bump()
    transaction.on_commit(bump)


def category_tree_changed() -> None:
    """Cached category subtrees (and listing counts, which depend on them) are stale from now on."""
    _generation_bump(selectors.TREE_GENERATION_KEY)
    listing_changed()


def listing_changed() -> None:
    """Cached listing counts are stale from now on (selectors.product_count)."""
    _generation_bump(selectors.LISTING_GENERATION_KEY)


def category_create(*, slug: str, name: str, parent_slug: str | None = None) -> Category:
    """A new category, under `parent_slug` or at the root. CategoryNotFound for an unknown parent;
    ValidationError for a bad slug or name, or a slug that is taken."""
    parent = _category_by_slug(parent_slug)
    category = Category(slug=slug, name=name, parent=parent, path=f"{parent.path if parent else ''}{slug}/")
    category.full_clean()
    category.save()
    category_tree_changed()
    return category


def category_rename(*, slug: str, name: str) -> Category:
    """Give a category a new display name. Its slug and place in the tree stay (moving a node would
    rewrite its subtree's paths): the cached subtrees hold ids only, so they stay right too.
    CategoryNotFound; ValidationError for a bad name."""
    with transaction.atomic():
        category = Category.objects.select_for_update().filter(slug=slug).first()
        if category is None:
            raise CategoryNotFound(f"No category {slug!r}.")
        category.name = name
        category.full_clean(exclude=["slug", "path", "parent"])
        category.save(update_fields=["name"])
    return category


def category_delete(*, slug: str) -> None:
    """Delete an empty category. CategoryNotFound; CategoryInUse while it has subcategories or
    products (deactivated ones included: they may come back)."""
    with transaction.atomic():
        category = Category.objects.select_for_update().filter(slug=slug).first()
        if category is None:
            raise CategoryNotFound(f"No category {slug!r}.")
        try:
            category.delete()
        except ProtectedError:
            raise CategoryInUse(slug=slug) from None
        category_tree_changed()


def _category_by_slug(slug: str | None) -> Category | None:
    if not slug:
        return None
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise CategoryNotFound(f"No category {slug!r}.")
    return category


# --- products ------------------------------------------------------------------------------------------


def _product_validate(product: Product) -> None:
    """Every rule of a product's stored state, as one ValidationError keyed by field name: the fields'
    validators (lengths, SKU, ISO 4217 currency, image URLs) and Product.clean() (the price in its
    currency's minor units). Uniqueness is the database's to decide (ProductAlreadyExists)."""
    product.full_clean(validate_unique=False)


def product_create(
    *,
    sku: str,
    name: str,
    price: Decimal,
    currency: str,
    slug: str = "",
    description: str = "",
    category: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    images: Iterable[str] = (),
    active: bool = True,
) -> Product:
    """Create a product and its (empty) stock row; stock arrives through receipts. Publishes
    ProductCreated. `category` is a slug; `price` a Decimal in `currency`'s minor units.

    Errors: ValidationError by field; CategoryNotFound; ProductAlreadyExists for a taken SKU or slug.
    """
    product = Product(
        sku=sku,
        name=name,
        slug=slug or slugify(f"{name}-{sku}")[:220],
        description=description,
        price=price,
        currency=currency,
        category=_category_by_slug(category),
        is_active=active,
        attributes=dict(attributes or {}),
        images=list(images),
    )
    _product_validate(product)
    try:
        with transaction.atomic():
            product.save()
            Stock.objects.create(product=product)
            bus.publish(
                events.ProductCreated(
                    sku=product.sku,
                    name=product.name,
                    slug=product.slug,
                    price=product.price,
                    currency=product.currency,
                    category=product.category.slug if product.category else None,
                    active=product.is_active,
                )
            )
            listing_changed()
    except IntegrityError:
        raise ProductAlreadyExists(f"SKU {sku!r} or slug {product.slug!r} is taken.") from None
    return product


def product_update(
    *,
    sku: str,
    name: str = UNCHANGED,
    slug: str = UNCHANGED,
    description: str = UNCHANGED,
    price: Decimal = UNCHANGED,
    currency: str = UNCHANGED,
    category: str | None = UNCHANGED,
    active: bool = UNCHANGED,
    attributes: Mapping[str, Any] = UNCHANGED,
    images: Sequence[str] = UNCHANGED,
    if_match: Sequence[str] | None = None,
    if_none_match: Sequence[str] | None = None,
) -> Product:
    """Change the fields given (the others stay); `category` takes a slug or None, `active`
    (de)activates. A new price or currency publishes ProductPriceChanged, a deactivation
    ProductDeactivated.

    `if_match` / `if_none_match` are the entity tags of a conditional request (RFC 9110 sections 13.1.1
    and 13.1.2; "*" for any): they are compared with selectors.product_etag under the product's row lock,
    so of two writers holding the same tag exactly one succeeds. Strong comparison for If-Match, weak
    for If-None-Match.

    Errors: ProductNotFound; ProductChanged (a PreconditionFailed) when a condition fails, nothing
    changed;
    ValidationError by field (a new currency without its price among them); CategoryNotFound;
    ProductAlreadyExists for a slug that is taken.
    """
    changes = {
        "name": name,
        "slug": slug,
        "description": description,
        "price": price,
        "currency": currency,
        "attributes": attributes,
        "images": images,
    }
    changes = {field: value for field, value in changes.items() if value is not UNCHANGED}
    try:
        with transaction.atomic():
            product = (
                Product.objects.select_for_update(of=("self",))
                .select_related("category", "stock")
                .filter(sku=sku)
                .first()
            )
            if product is None:
                raise ProductNotFound([sku])
            _preconditions(product, if_match=if_match, if_none_match=if_none_match)
            old_price, old_currency, was_active = product.price, product.currency, product.is_active
            if currency is not UNCHANGED and currency != old_currency and price is UNCHANGED:
                # An amount means nothing in another currency: a new currency always comes with its price.
                raise ValidationError({"price": ["Send the price with a new currency."]})
            for field, value in changes.items():
                setattr(product, field, value)
            if "attributes" in changes:
                product.attributes = dict(attributes)
            if "images" in changes:
                product.images = list(images)
            if category is not UNCHANGED:
                product.category = _category_by_slug(category)
            if active is not UNCHANGED:
                product.is_active = bool(active)
            _product_validate(product)
            product.save()
            if product.price != old_price or product.currency != old_currency:
                bus.publish(
                    events.ProductPriceChanged(
                        sku=sku,
                        old_price=old_price,
                        new_price=product.price,
                        old_currency=old_currency,
                        currency=product.currency,
                    )
                )
            if was_active and not product.is_active:
                bus.publish(events.ProductDeactivated(sku=sku))
            listing_changed()
    except IntegrityError:
        raise ProductAlreadyExists(f"Slug {slug!r} is taken.") from None
    return product


def _preconditions(
    product: Product, *, if_match: Sequence[str] | None, if_none_match: Sequence[str] | None
) -> None:
    """RFC 9110 section 13.2.2, steps 1 and 3, for a write to an existing product: If-Match must be "*"
    or name its current tag (strong comparison); If-None-Match must be neither "*" nor name it (weak
    comparison). None is an absent header; an empty sequence one that names no tag. A failure is
    ProductChanged (412): never "304 Not Modified", which only a GET or HEAD may answer."""
    if if_match is None and if_none_match is None:
        return
    etag = selectors.product_etag(product)
    if if_match is not None and "*" not in if_match and etag not in if_match:
        raise ProductChanged(sku=product.sku, etag=etag)
    if if_none_match is not None and ("*" in if_none_match or etag in {_weak(tag) for tag in if_none_match}):
        raise ProductChanged(sku=product.sku, etag=etag)


def _weak(tag: str) -> str:
    return tag.removeprefix("W/")


def products_set_active(*, skus: Iterable[str], active: bool) -> int:
    """Bulk (de)activation for operators; each change goes through product_update for its events.
    Returns how many products are now in the state asked for."""
    changed = 0
    for sku in sorted(set(skus)):
        product = product_update(sku=sku, active=active)
        changed += product.is_active == active
    return changed


def product_save(*, sku: str, fields: Mapping[str, Any]) -> tuple[Product, bool]:
    """Create the product `sku` from `fields` (keys from FIELDS) or, if it exists, change those fields;
    (product, created). For writers that do not know which it is: the CSV import."""
    if Product.objects.filter(sku=sku).exists():
        return product_update(sku=sku, **fields), False
    return product_create(sku=sku, **fields), True


# The CSV columns every file must have; a blank cell in one of them is an error, not "leave alone".
CSV_REQUIRED: Final = ("sku", "name", "price", "currency")


def products_import_csv(*, text: str) -> tuple[int, int]:
    """Create or update products from CSV text (RFC 4180, with a header row), all rows or none; returns
    (created, updated).

    Columns are `sku` and FIELDS; sku, name, price and currency are required. A column the file does
    not have, or a blank cell in an optional one, leaves that field alone, except that a blank category
    means "no category" (what the admin's export writes for none). Rows are read by the admin's product
    form (contexts.catalog.forms.ProductFieldsForm). ValidationError lists each bad row: "line N: ...".
    """
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or ())
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:  # DictReader would silently keep the last of them
        raise ValidationError(f"Repeated column(s): {', '.join(repeated)}.")
    columns = set(header)
    missing = set(CSV_REQUIRED) - columns
    if missing:
        raise ValidationError(f"Missing column(s): {', '.join(sorted(missing))}.")
    errors: list[str] = []
    created = updated = 0
    with transaction.atomic():
        for line, row in enumerate(reader, start=2):
            if None in row:  # more cells than the header has columns
                errors.append(f"line {line}: more cells than columns")
                continue
            cells = {column: (value or "").strip() for column, value in row.items()}
            sent = {c for c in FIELDS if c in columns and (cells[c] or c in CSV_REQUIRED or c == "category")}
            form = ProductFieldsForm(data=cells, present=sent)
            try:
                if not cells["sku"]:
                    raise ValidationError({"sku": ["This field is required."]})
                if not form.is_valid():
                    raise ValidationError(form.errors.as_data())
                with transaction.atomic():
                    _, was_created = product_save(sku=cells["sku"], fields=form.changes())
                created += was_created
                updated += not was_created
            except (CatalogError, ValidationError) as exc:
                errors.append(f"line {line}: {_describe(exc)}")
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise ValidationError(errors)
    return created, updated


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)
