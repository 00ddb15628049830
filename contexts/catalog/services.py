"""Catalog use cases that write: products, categories, stock adjustments and reservations.

Every change of stock happens with the stock rows locked (SELECT ... FOR UPDATE, in ascending SKU
order, so two multi-SKU calls can never wait on each other in a cycle), records a ledger movement and
publishes its events in the same transaction. A reservation's row is always locked before any stock
row, which keeps the order global across reserve, commit, release and the expiry sweeper.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from contexts.catalog import events
from contexts.catalog.data import (
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
from contexts.catalog.models import Category, Movement, Product, Reservation, ReservationLine, Stock
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
    return Category.objects.create(slug=slug, name=name, parent=parent, path=path)


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


def _lock_stocks(skus: Iterable[str], *, active_only: bool = False) -> dict[str, Stock]:
    """Lock the stock rows of `skus` in ascending SKU order (the global lock order) and return them."""
    rows = Stock.objects.select_for_update(of=("self",)).filter(pk__in=sorted(set(skus))).order_by("pk")
    if active_only:
        rows = rows.filter(product__is_active=True)
    return {s.pk: s for s in rows}


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
        stock = _lock_stocks([sku]).get(sku)
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


def _data(reservation: Reservation, lines: Mapping[str, int] | None = None) -> ReservationData:
    if lines is None:
        lines = dict(reservation.lines.order_by("sku").values_list("sku", "quantity"))
    return ReservationData(
        key=reservation.key,
        status=str(reservation.status),
        expires_at=reservation.expires_at,
        lines=tuple(StockLine(sku=s, quantity=q) for s, q in lines.items()),
    )


def _event_lines(lines: Mapping[str, int]) -> tuple[events.StockLineData, ...]:
    return tuple(events.StockLineData(sku=s, quantity=q) for s, q in lines.items())


def _reservation_claim(*, key: str, expires_at: dt.datetime, now: dt.datetime) -> Reservation | None:
    """Insert an active reservation under `key`, or return None if the key is taken.

    INSERT ... ON CONFLICT DO NOTHING does in one round trip what create() inside a savepoint does
    in three (this is the hot path of every checkout). A concurrent insert of the same key waits for
    the other transaction: if it commits, nothing is inserted here; if it rolls back, this one wins.
    """
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Reservation._meta.db_table} (key, status, expires_at, created_at, updated_at) "  # noqa: S608 - table name from the model
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING id",
            [
                key,
                Status.ACTIVE.value,
                ops.adapt_datetimefield_value(expires_at),
                ops.adapt_datetimefield_value(now),
                ops.adapt_datetimefield_value(now),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Reservation(
        id=row[0], key=key, status=Status.ACTIVE, expires_at=expires_at, created_at=now, updated_at=now
    )


def stock_reserve(
    *, key: str, lines: Iterable[StockLine], ttl_seconds: int, actor: str = "service"
) -> ReservationData:
    """Hold every line until now + ttl, or none of them (OutOfStock names the short SKUs).

    Idempotent by key: the reservation row is inserted first, so a second call with the same key —
    even a concurrent one — waits on the unique key, then finds the first call's reservation and
    returns it without touching stock. Reusing a key for different lines is a ReservationConflict.
    """
    wanted = _normalise_lines(lines)
    _check_key_and_ttl(key, ttl_seconds)
    now = timezone.now()
    with transaction.atomic():
        reservation = _reservation_claim(key=key, expires_at=now + dt.timedelta(seconds=ttl_seconds), now=now)
        if reservation is None:
            existing = Reservation.objects.get(key=key)
            data = _data(existing)
            if {line.sku: line.quantity for line in data.lines} != wanted:
                raise ReservationConflict(key) from None
            return data

        stocks = _lock_stocks(wanted, active_only=True)
        missing = [sku for sku in wanted if sku not in stocks]
        if missing:
            raise ProductNotFound(missing)
        short = [sku for sku, qty in wanted.items() if stocks[sku].available < qty]
        if short:
            raise OutOfStock(short)

        movements, drained = [], []
        for sku, qty in wanted.items():
            stock = stocks[sku]
            stock.reserved += qty
            stock.updated_at = now
            movements.append(
                _movement(
                    stock,
                    kind=Kind.RESERVATION,
                    reserved_delta=qty,
                    reservation_key=key,
                    actor=actor,
                    reason="reserved",
                    created_at=now,
                )
            )
            if stock.available == 0:
                drained.append(sku)
        Stock.objects.bulk_update(stocks.values(), ["reserved", "updated_at"])
        ReservationLine.objects.bulk_create(
            [ReservationLine(reservation=reservation, sku=sku, quantity=qty) for sku, qty in wanted.items()]
        )
        Movement.objects.bulk_create(movements)
        bus.publish(
            events.StockReserved(key=key, lines=_event_lines(wanted), expires_at=reservation.expires_at)
        )
        for sku in drained:
            bus.publish(events.OutOfStock(sku=sku))
    return _data(reservation, wanted)


def _locked_reservation(key: str) -> Reservation:
    reservation = Reservation.objects.select_for_update().filter(key=key).first()
    if reservation is None:
        raise ReservationNotFound(key)
    return reservation


def stock_extend(*, key: str, ttl_seconds: int) -> ReservationData:
    """Push an active reservation's expiry to now + ttl (never earlier than it already is)."""
    _check_key_and_ttl(key, ttl_seconds)
    now = timezone.now()
    with transaction.atomic():
        reservation = _locked_reservation(key)
        if reservation.status == Status.EXPIRED or (
            reservation.status == Status.ACTIVE and reservation.expires_at <= now
        ):
            raise ReservationExpired(key)
        if reservation.status == Status.RELEASED:
            raise ReservationNotFound(key, f"The reservation under key {key!r} was released.")
        new_expiry = now + dt.timedelta(seconds=ttl_seconds)
        if reservation.status == Status.ACTIVE and new_expiry > reservation.expires_at:
            reservation.expires_at = new_expiry
            reservation.save(update_fields=["expires_at", "updated_at"])
        return _data(reservation)


def stock_commit(*, key: str, actor: str = "service") -> ReservationData:
    """Turn an active reservation into a sale: on_hand and reserved both drop by each line's quantity.

    Committing twice is a no-op; committing an expired or released reservation fails, because its
    goods may already be held for someone else.
    """
    now = timezone.now()
    with transaction.atomic():
        reservation = _locked_reservation(key)
        if reservation.status == Status.COMMITTED:
            return _data(reservation)
        if reservation.status == Status.RELEASED:
            raise ReservationNotFound(key, f"The reservation under key {key!r} was released.")
        if reservation.status == Status.EXPIRED or reservation.expires_at <= now:
            raise ReservationExpired(key)
        lines = dict(reservation.lines.order_by("sku").values_list("sku", "quantity"))
        stocks = _lock_stocks(lines)
        movements = []
        for sku, qty in lines.items():
            stock = stocks[sku]
            stock.on_hand -= qty
            stock.reserved -= qty
            stock.updated_at = now
            movements.append(
                _movement(
                    stock,
                    kind=Kind.SALE,
                    on_hand_delta=-qty,
                    reserved_delta=-qty,
                    reservation_key=key,
                    actor=actor,
                    reason="reservation committed",
                    created_at=now,
                )
            )
        Stock.objects.bulk_update(stocks.values(), ["on_hand", "reserved", "updated_at"])
        Movement.objects.bulk_create(movements)
        reservation.status = Status.COMMITTED
        reservation.save(update_fields=["status", "updated_at"])
        bus.publish(events.StockCommitted(key=key, lines=_event_lines(lines)))
    return _data(reservation, lines)


def _give_back(
    reservations: list[Reservation], *, status: str, actor: str, reason: str, now: dt.datetime
) -> dict[int, dict[str, int]]:
    """Return the held quantities of locked active `reservations` to available stock.

    All their stock rows are locked together, in ascending SKU order, whatever the reservations.
    Returns each reservation's lines by reservation id.
    """
    by_reservation: dict[int, dict[str, int]] = {r.id: {} for r in reservations}
    for rid, sku, qty in (
        ReservationLine.objects.filter(reservation__in=reservations)
        .order_by("sku")
        .values_list("reservation_id", "sku", "quantity")
    ):
        by_reservation[rid][sku] = qty
    stocks = _lock_stocks(sku for lines in by_reservation.values() for sku in lines)
    before = {sku: s.available for sku, s in stocks.items()}
    key_of = {r.id: r.key for r in reservations}
    movements = []
    for rid, lines in by_reservation.items():
        for sku, qty in lines.items():
            stock = stocks[sku]
            stock.reserved -= qty
            stock.updated_at = now
            movements.append(
                _movement(
                    stock,
                    kind=Kind.RELEASE,
                    reserved_delta=-qty,
                    reservation_key=key_of[rid],
                    actor=actor,
                    reason=reason,
                    created_at=now,
                )
            )
    Stock.objects.bulk_update(stocks.values(), ["reserved", "updated_at"])
    Movement.objects.bulk_create(movements)
    Reservation.objects.filter(id__in=key_of).update(status=status, updated_at=now)
    for r in reservations:
        r.status = status
    for sku, stock in stocks.items():
        _publish_availability(sku, before[sku], stock.available)
    return by_reservation


def stock_release(*, key: str, actor: str = "service", reason: str = "released") -> ReservationData:
    """Give an active reservation's goods back. Releasing twice (or after expiry) is a no-op."""
    with transaction.atomic():
        reservation = _locked_reservation(key)
        if reservation.status in (Status.RELEASED, Status.EXPIRED):
            return _data(reservation)
        if reservation.status == Status.COMMITTED:
            raise ReservationCommitted(key)
        lines = _give_back(
            [reservation], status=Status.RELEASED, actor=actor, reason=reason, now=timezone.now()
        )[reservation.id]
        bus.publish(events.StockReleased(key=key, lines=_event_lines(lines)))
    return _data(reservation, lines)


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
            lines = _give_back(due, status=Status.EXPIRED, actor=SWEEPER_ACTOR, reason="expired", now=now)
            for r in due:
                bus.publish(
                    events.ReservationExpired(
                        key=r.key, lines=_event_lines(lines[r.id]), expired_at=r.expires_at
                    )
                )
            released += len(due)
