"""Catalog use cases that write: products, categories, stock adjustments and reservations.

Every change of stock happens with its stock rows locked, records a ledger movement and publishes its
events in the same transaction. A change of one stock row locks just that row (a conditional UPDATE);
several rows are locked together with SELECT ... FOR UPDATE in ascending SKU order, so two multi-SKU
calls can never wait on each other in a cycle. A reservation's row is always locked before any stock
row, which keeps the order global across reserve, commit, release and the expiry sweeper.
"""

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from contexts.catalog import events, selectors, sql
from contexts.catalog.data import (
    CatalogError,
    CategoryNotFound,
    InvalidLines,
    OutOfStock,
    ProductAlreadyExists,
    ProductNotFound,
    ReservationCommitted,
    ReservationConflict,
    ReservationData,
    ReservationExpired,
    ReservationNotFound,
    StockAdjustmentRejected,
    StockLine,
)
from contexts.catalog.models import Category, Movement, Product, Reservation, Stock
from integration import bus

Kind = Movement.Kind
Status = Reservation.Status

MAX_LINES = 100
MAX_QUANTITY = 1_000_000
MAX_TTL_SECONDS = 7 * 24 * 3600
SWEEPER_ACTOR = "system:reservation-sweeper"

# --- categories and products -------------------------------------------------------------------------


def category_create(*, slug: str, name: str, parent_slug: str | None = None) -> Category:
    parent = None
    if parent_slug:
        parent = Category.objects.filter(slug=parent_slug).first()
        if parent is None:
            raise CategoryNotFound(f"No category {parent_slug!r}.")
    path = f"{parent.path if parent else ''}{slug}/"
    category = Category.objects.create(slug=slug, name=name, parent=parent, path=path)
    category_tree_changed()
    return category


def category_tree_changed() -> None:
    """Cached category subtrees are stale from now on (at once, and again after commit, so a listing
    that read the old tree meanwhile cannot keep it)."""

    def bump() -> None:
        cache.set(selectors.TREE_GENERATION_KEY, uuid.uuid4().hex, timeout=None)

    bump()
    transaction.on_commit(bump)


def _category_by_slug(slug: str | None) -> Category | None:
    if not slug:
        return None
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise CategoryNotFound(f"No category {slug!r}.")
    return category


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
    """Create a product and its (empty) stock row; stock arrives through receipts."""
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
    product.full_clean(validate_unique=False)
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
    except IntegrityError:
        raise ProductAlreadyExists(f"SKU {sku!r} or slug {product.slug!r} is taken.") from None
    return product


_UPDATABLE = {"name", "slug", "description", "price", "currency", "attributes", "images"}


def product_update(*, sku: str, **changes: Any) -> Product:
    """Change a product's fields. `category` takes a slug, `active` (de)activates.

    A new price publishes ProductPriceChanged, a deactivation ProductDeactivated.
    """
    unknown = set(changes) - _UPDATABLE - {"category", "active"}
    if unknown:
        raise TypeError(f"product_update() got unknown fields: {sorted(unknown)}")
    if "currency" in changes and "price" not in changes:
        # An amount means nothing in another currency: a new currency always comes with its price.
        raise ValidationError({"price": ["Send the price with a new currency."]})
    try:
        with transaction.atomic():
            product = (
                Product.objects.select_for_update(of=("self",))
                .select_related("category")
                .filter(sku=sku)
                .first()
            )
            if product is None:
                raise ProductNotFound([sku])
            old_price, old_currency, was_active = product.price, product.currency, product.is_active
            for name in _UPDATABLE & set(changes):
                setattr(product, name, changes[name])
            if "category" in changes:
                product.category = _category_by_slug(changes["category"])
            if "active" in changes:
                product.is_active = bool(changes["active"])
            product.full_clean(validate_unique=False)
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
    except IntegrityError:
        raise ProductAlreadyExists(f"Slug {changes.get('slug')!r} is taken.") from None
    return product


def products_set_active(*, skus: Iterable[str], active: bool) -> int:
    """Bulk (de)activation for operators; each change goes through product_update for its events."""
    changed = 0
    for sku in sorted(set(skus)):
        product = product_update(sku=sku, active=active)
        changed += product.is_active == active
    return changed


# --- stock -------------------------------------------------------------------------------------------


def _movement(stock: Stock, *, kind: str, on_hand_delta: int = 0, reserved_delta: int = 0, **kw) -> Movement:
    return Movement(
        stock_id=stock.pk,
        kind=kind,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        on_hand_after=stock.on_hand,
        reserved_after=stock.reserved,
        **kw,
    )


def _publish_availability(sku: str, before: int, after: int) -> None:
    if before > 0 and after <= 0:
        bus.publish(events.OutOfStock(sku=sku))
    elif before <= 0 and after > 0:
        bus.publish(events.StockReplenished(sku=sku, available=after))


def stock_adjust(*, sku: str, delta: int, reason: str, actor: str, kind: str = Kind.ADJUSTMENT) -> Stock:
    """A receipt (goods in, delta > 0) or a correction (either sign). Never takes on_hand below what is
    reserved: held goods must be released first."""
    if kind not in (Kind.ADJUSTMENT, Kind.RECEIPT):
        raise ValueError(f"an adjustment is a receipt or an adjustment, not {kind!r}")
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0 or abs(delta) > MAX_QUANTITY:
        raise InvalidLines(f"delta must be a non-zero whole number up to {MAX_QUANTITY} in size.")
    if kind == Kind.RECEIPT and delta < 0:
        raise InvalidLines("A receipt adds stock: its delta must be positive.")
    if not reason.strip():
        raise InvalidLines("An adjustment needs a reason.")
    with transaction.atomic():
        stock = Stock.objects.select_for_update(of=("self",)).filter(pk=sku).first()
        if stock is None:
            raise ProductNotFound([sku])
        if stock.on_hand + delta < stock.reserved:
            raise StockAdjustmentRejected(
                f"{sku}: on hand {stock.on_hand} {delta:+} would fall below the {stock.reserved} reserved."
            )
        before = stock.available
        stock.on_hand += delta
        stock.save(update_fields=["on_hand", "updated_at"])
        _movement(stock, kind=kind, on_hand_delta=delta, actor=actor, reason=reason.strip()).save()
        _publish_availability(sku, before, stock.available)
    return stock


# --- reservations ------------------------------------------------------------------------------------
# Reserve, release, commit and extend run on every checkout: their common case is a handful of SQL
# statements (contexts.catalog.sql), one round trip each; the unusual outcomes (a repeated key, a
# reservation already ended) are worked out afterwards through the ORM.


def _normalise_lines(lines: Iterable[StockLine]) -> dict[str, int]:
    """{sku: quantity}, in ascending SKU order, with repeated SKUs summed."""
    wanted: dict[str, int] = {}
    for line in lines:
        qty = line.quantity
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= MAX_QUANTITY:
            raise InvalidLines(f"{line.sku}: a quantity is a whole number from 1 to {MAX_QUANTITY}.")
        wanted[line.sku] = wanted.get(line.sku, 0) + qty
    if not wanted:
        raise InvalidLines("A reservation needs at least one line.")
    if len(wanted) > MAX_LINES:
        raise InvalidLines(f"A reservation holds at most {MAX_LINES} SKUs.")
    return dict(sorted(wanted.items()))


def _check_key_and_ttl(key: str, ttl_seconds: int) -> None:
    if not isinstance(key, str) or not 0 < len(key) <= 200:
        raise InvalidLines("A reservation key is a string of 1 to 200 characters.")
    if (
        not isinstance(ttl_seconds, int)
        or isinstance(ttl_seconds, bool)
        or not 0 < ttl_seconds <= MAX_TTL_SECONDS
    ):
        raise InvalidLines(f"ttl is a whole number of seconds from 1 to {MAX_TTL_SECONDS}.")


def _data(key: str, status: str, expires_at: dt.datetime, lines: Mapping[str, int]) -> ReservationData:
    return ReservationData(
        key=key,
        status=status,
        expires_at=expires_at,
        lines=tuple(StockLine(sku=s, quantity=q) for s, q in lines.items()),
    )


def _stored_data(reservation: Reservation) -> ReservationData:
    """A reservation as stored, lines included: what a repeated or no-op call answers."""
    lines = dict(reservation.lines.order_by("sku").values_list("sku", "quantity"))
    return _data(reservation.key, str(reservation.status), reservation.expires_at, lines)


def _event_lines(lines: Mapping[str, int]) -> tuple[events.StockLineData, ...]:
    return tuple(events.StockLineData(sku=s, quantity=q) for s, q in lines.items())


def _take_stock(wanted: Mapping[str, int], *, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Reserve `wanted` ({sku: quantity}, ascending) from available stock, all of it or none; the new
    (on_hand, reserved) by SKU. Raises ProductNotFound or OutOfStock naming the SKUs at fault.

    One SKU is tried with a single conditional UPDATE, which locks only its row. Several SKUs, or one that
    could not be taken that way, are locked in ascending SKU order, checked, and changed by one UPDATE.
    """
    if len(wanted) == 1:
        [(sku, qty)] = wanted.items()
        taken = sql.stock_take_one(sku=sku, quantity=qty, now=now)
        if taken is not None:
            return {sku: taken}
    stocks = sql.stocks_lock(wanted, active_only=True)
    missing = [sku for sku in wanted if sku not in stocks]
    if missing:
        raise ProductNotFound(missing)
    short = [sku for sku, qty in wanted.items() if stocks[sku][0] - stocks[sku][1] < qty]
    if short:
        raise OutOfStock(short)
    return sql.stocks_shift({sku: (0, qty) for sku, qty in wanted.items()}, now=now, locked=True)


def stock_reserve(
    *, key: str, lines: Iterable[StockLine], ttl_seconds: int, actor: str = "service"
) -> ReservationData:
    """Hold every line until now + ttl, or none of them (OutOfStock names the short SKUs).

    Idempotent by key: the reservation row is inserted first, so a second call with the same key —
    even a concurrent one — waits on the unique key, then finds the first call's reservation and
    returns it without touching stock (ReservationExpired / ReservationNotFound if that hold has since
    expired or been released). Reusing a key for different lines is a ReservationConflict.
    """
    wanted = _normalise_lines(lines)
    _check_key_and_ttl(key, ttl_seconds)
    now = timezone.now()
    expires_at = now + dt.timedelta(seconds=ttl_seconds)
    with transaction.atomic():
        reservation_id = sql.reservation_insert(key=key, expires_at=expires_at, now=now)
        if reservation_id is None:
            existing = Reservation.objects.get(key=key)
            data = _stored_data(existing)
            if {line.sku: line.quantity for line in data.lines} != wanted:
                raise ReservationConflict(key) from None
            # A replay answers only for a hold that still stands (or became a sale): a caller must
            # never believe it holds stock that expired or was given back.
            if data.status == Status.EXPIRED or (data.status == Status.ACTIVE and existing.expires_at <= now):
                raise ReservationExpired(key)
            if data.status == Status.RELEASED:
                raise ReservationNotFound(
                    key, "This key's reservation was released; reserve under a new key."
                )
            return data
        after = _take_stock(wanted, now=now)
        sql.lines_insert(reservation_id, wanted)
        sql.movements_insert(
            [(sku, key, 0, qty, *after[sku]) for sku, qty in wanted.items()],
            kind=Kind.RESERVATION.value,
            actor=actor,
            reason="reserved",
            now=now,
        )
        bus.publish(events.StockReserved(key=key, lines=_event_lines(wanted), expires_at=expires_at))
        for sku in wanted:
            on_hand, reserved = after[sku]
            if on_hand == reserved:
                bus.publish(events.OutOfStock(sku=sku))
    return _data(key, Status.ACTIVE.value, expires_at, wanted)


def _locked_reservation(key: str) -> Reservation:
    reservation = Reservation.objects.select_for_update().filter(key=key).first()
    if reservation is None:
        raise ReservationNotFound(key)
    return reservation


def stock_extend(*, key: str, ttl_seconds: int) -> ReservationData:
    """Push an active reservation's expiry to now + ttl (never earlier than it already is)."""
    _check_key_and_ttl(key, ttl_seconds)
    now = timezone.now()
    new_expiry = now + dt.timedelta(seconds=ttl_seconds)
    with transaction.atomic():
        reservation_id = sql.reservation_extend(key=key, expires_at=new_expiry, now=now)
        if reservation_id is not None:
            return _data(key, Status.ACTIVE.value, new_expiry, sql.lines_of([reservation_id])[reservation_id])
        # Not extended: find out why, with the row locked so the answer holds until commit.
        reservation = _locked_reservation(key)
        if reservation.status == Status.EXPIRED or (
            reservation.status == Status.ACTIVE and reservation.expires_at <= now
        ):
            raise ReservationExpired(key)
        if reservation.status == Status.RELEASED:
            raise ReservationNotFound(key, f"The reservation under key {key!r} was released.")
        return _stored_data(reservation)  # committed, or active and already expiring later


def stock_commit(*, key: str, actor: str = "service") -> ReservationData:
    """Turn an active reservation into a sale: on_hand and reserved both drop by each line's quantity.

    Committing twice is a no-op; committing an expired or released reservation fails, because its
    goods may already be held for someone else.
    """
    now = timezone.now()
    with transaction.atomic():
        ended = sql.reservation_end(key=key, status=Status.COMMITTED.value, now=now, unexpired_only=True)
        if ended is None:
            reservation = Reservation.objects.filter(key=key).first()
            if reservation is None:
                raise ReservationNotFound(key)
            if reservation.status == Status.COMMITTED:
                return _stored_data(reservation)
            if reservation.status == Status.RELEASED:
                raise ReservationNotFound(key, f"The reservation under key {key!r} was released.")
            raise ReservationExpired(key)  # swept, or active but past its expiry
        reservation_id, expires_at = ended
        lines = sql.lines_of([reservation_id])[reservation_id]
        after = sql.stocks_shift({sku: (-qty, -qty) for sku, qty in lines.items()}, now=now)
        sql.movements_insert(
            [(sku, key, -qty, -qty, *after[sku]) for sku, qty in lines.items()],
            kind=Kind.SALE.value,
            actor=actor,
            reason="reservation committed",
            now=now,
        )
        bus.publish(events.StockCommitted(key=key, lines=_event_lines(lines)))
    return _data(key, Status.COMMITTED.value, expires_at, lines)


def _give_back(
    keys: Mapping[int, str], *, actor: str, reason: str, now: dt.datetime
) -> dict[int, dict[str, int]]:
    """Return the held quantities of the reservations `keys` ({id: key}) to available stock.

    The caller has already ended them (their new status is what makes a second release a no-op). All
    their stock rows change together, locked in ascending SKU order whatever the reservations. Returns
    each reservation's lines by reservation id.
    """
    by_reservation = sql.lines_of(keys)
    held: dict[str, int] = {}
    for lines in by_reservation.values():
        for sku, qty in lines.items():
            held[sku] = held.get(sku, 0) + qty
    after = sql.stocks_shift({sku: (0, -qty) for sku, qty in sorted(held.items())}, now=now)
    # One ledger row per line, each showing the stock as it stood once that line was given back.
    reserved = {sku: after[sku][1] + qty for sku, qty in held.items()}
    moves = []
    for rid, lines in by_reservation.items():
        for sku, qty in lines.items():
            reserved[sku] -= qty
            moves.append((sku, keys[rid], 0, -qty, after[sku][0], reserved[sku]))
    sql.movements_insert(moves, kind=Kind.RELEASE.value, actor=actor, reason=reason, now=now)
    for sku in sorted(held):
        on_hand, reserved_after = after[sku]
        _publish_availability(sku, on_hand - reserved_after - held[sku], on_hand - reserved_after)
    return by_reservation


def stock_release(*, key: str, actor: str = "service", reason: str = "released") -> ReservationData:
    """Give an active reservation's goods back. Releasing twice (or after expiry) is a no-op."""
    now = timezone.now()
    with transaction.atomic():
        ended = sql.reservation_end(key=key, status=Status.RELEASED.value, now=now, unexpired_only=False)
        if ended is None:
            reservation = Reservation.objects.filter(key=key).first()
            if reservation is None:
                raise ReservationNotFound(key)
            if reservation.status == Status.COMMITTED:
                raise ReservationCommitted(key)
            return _stored_data(reservation)  # released or expired already
        reservation_id, expires_at = ended
        lines = _give_back({reservation_id: key}, actor=actor, reason=reason, now=now)[reservation_id]
        bus.publish(events.StockReleased(key=key, lines=_event_lines(lines)))
    return _data(key, Status.RELEASED.value, expires_at, lines)


def reservations_release_expired(*, batch: int = 200) -> int:
    """Release every active reservation past its expiry; returns how many. Safe to run concurrently:
    rows are claimed with SKIP LOCKED, and one being committed or released right now is skipped."""
    now = timezone.now()
    released = 0
    while True:
        with transaction.atomic():
            due = list(
                Reservation.objects.select_for_update(skip_locked=True)
                .filter(status=Status.ACTIVE, expires_at__lte=now)
                .order_by("expires_at", "id")[:batch]
            )
            if not due:
                return released
            Reservation.objects.filter(id__in=[r.id for r in due]).update(
                status=Status.EXPIRED, updated_at=now
            )
            lines = _give_back({r.id: r.key for r in due}, actor=SWEEPER_ACTOR, reason="expired", now=now)
            for r in due:
                bus.publish(
                    events.ReservationExpired(
                        key=r.key, lines=_event_lines(lines[r.id]), expired_at=r.expires_at
                    )
                )
            released += len(due)


def products_import_csv(*, text: str) -> tuple[int, int]:
    """Create or update products from CSV text, all rows or none. Returns (created, updated).

    Columns sku, name, price, currency are required; category, active, slug, description optional.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = {"sku", "name", "price", "currency"} - set(reader.fieldnames or ())
    if missing:
        raise ValidationError(f"Missing column(s): {', '.join(sorted(missing))}.")
    errors: list[str] = []
    created = updated = 0
    with transaction.atomic():
        existing = set(Product.objects.values_list("sku", flat=True))
        for line, row in enumerate(reader, start=2):
            try:
                try:
                    price = Decimal(row["price"].strip())
                except InvalidOperation:
                    raise ValidationError(f"price {row['price']!r} is not a decimal number") from None
                fields = {
                    "name": row["name"].strip(),
                    "price": price,
                    "currency": row["currency"].strip().upper(),
                }
                # Optional columns change a product only when the file has them: a file without an
                # `active` column must not reactivate what an operator deactivated.
                if "category" in row:
                    fields["category"] = (row["category"] or "").strip() or None
                if "active" in row and (row["active"] or "").strip():
                    fields["active"] = row["active"].strip().lower() in ("1", "true", "yes")
                for optional in ("slug", "description"):
                    if (row.get(optional) or "").strip():
                        fields[optional] = row[optional].strip()
                sku = row["sku"].strip()
                with transaction.atomic():
                    if sku in existing:
                        product_update(sku=sku, **fields)
                        updated += 1
                    else:
                        product_create(sku=sku, **fields)
                        existing.add(sku)
                        created += 1
            except (CatalogError, ValidationError, KeyError, AttributeError) as exc:
                detail = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                errors.append(f"line {line}: {detail or type(exc).__name__}")
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise ValidationError(errors)
    return created, updated
