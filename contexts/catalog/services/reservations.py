"""Reservations: stock held under a key (a saga's `saga_id:step`) until it expires, is committed as a
sale or is released — and the sweeper that releases the expired ones.

Reserve, extend, commit and release run on every checkout. Each begins with one statement that both
decides and acts (contexts.catalog.sql: claim the key, or end the reservation only if it is still
active), so two racing calls can never both succeed. When that statement changes nothing, the caller
learns why from one place, selectors.reservation_unchanged: a repeated call gets the stored reservation
back, anything else its error.

Lock order, global across reserve, commit, release and the sweeper: a reservation's row first, then its
stock rows in ascending SKU order.
"""

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.utils import timezone

from contexts.catalog import events, selectors, sql
from contexts.catalog.data import (
    InvalidLines,
    OutOfStock,
    ProductNotFound,
    ReservationData,
    ReservationNotCommitted,
    ReservationNotFound,
    StockLine,
)
from contexts.catalog.models import Movement, Reservation, ReservationLine
from contexts.catalog.services.stock import (
    MAX_QUANTITY,
    movement,
    publish_availability,
    stocks_lock,
    whole_quantity,
)
from integration import bus

Kind = Movement.Kind
Status = Reservation.Status
Action = selectors.ReservationAction

MAX_LINES = 100
MAX_TTL_SECONDS = 7 * 24 * 3600
MAX_KEY_LENGTH = 200
SWEEPER_ACTOR = "system:reservation-sweeper"


def _normalise_lines(lines: Iterable[StockLine]) -> dict[str, int]:
    """{sku: quantity} in ascending SKU order, repeated SKUs summed. InvalidLines if a quantity is not a
    whole number from 1 to MAX_QUANTITY (per line and per SKU), or there are no lines or too many SKUs."""
    wanted: dict[str, int] = {}
    for line in lines:
        if not whole_quantity(line.quantity, low=1, high=MAX_QUANTITY):
            raise InvalidLines(f"{line.sku}: a quantity is a whole number from 1 to {MAX_QUANTITY}.")
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        if wanted[line.sku] > MAX_QUANTITY:
            raise InvalidLines(f"{line.sku}: at most {MAX_QUANTITY} of one SKU per reservation.")
    if not wanted:
        raise InvalidLines("A reservation needs at least one line.")
    if len(wanted) > MAX_LINES:
        raise InvalidLines(f"A reservation holds at most {MAX_LINES} SKUs.")
    return dict(sorted(wanted.items()))


def _check_key_and_ttl(key: str, ttl_seconds: int) -> None:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidLines(f"A reservation key is a string of 1 to {MAX_KEY_LENGTH} characters.")
    if not whole_quantity(ttl_seconds, low=1, high=MAX_TTL_SECONDS):
        raise InvalidLines(f"ttl is a whole number of seconds from 1 to {MAX_TTL_SECONDS}.")


def _data(key: str, status: str, expires_at: dt.datetime, lines: Mapping[str, int]) -> ReservationData:
    return ReservationData(
        key=key,
        status=status,
        expires_at=expires_at,
        lines=tuple(StockLine(sku=s, quantity=q) for s, q in lines.items()),
    )


def _event_lines(lines: Mapping[str, int]) -> tuple[events.StockLineData, ...]:
    return tuple(events.StockLineData(sku=s, quantity=q) for s, q in lines.items())


def _shift(deltas: Mapping[str, tuple[int, int]], *, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Apply (on_hand, reserved) deltas to stock rows, locking several in ascending SKU order first."""
    if len(deltas) > 1:
        stocks_lock(deltas)
    return sql.stocks_shift(deltas, now=now)


def _take_stock(wanted: Mapping[str, int], *, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Reserve `wanted` ({sku: quantity}, ascending) from available stock, all of it or none; the new
    (on_hand, reserved) by SKU. Raises ProductNotFound or OutOfStock naming the SKUs at fault.

    The rows are locked in ascending SKU order, checked, and changed by one UPDATE. (One SKU is first
    tried by the statement that claims the key: a conditional UPDATE that locks only its row.)
    """
    stocks = stocks_lock(wanted, active_only=True)
    missing = [sku for sku in wanted if sku not in stocks]
    if missing:
        raise ProductNotFound(missing)
    short = [sku for sku, qty in wanted.items() if stocks[sku][0] - stocks[sku][1] < qty]
    if short:
        raise OutOfStock(short)
    return sql.stocks_shift({sku: (0, qty) for sku, qty in wanted.items()}, now=now)


def stock_reserve(
    *, key: str, lines: Iterable[StockLine], ttl_seconds: int, actor: str = "service"
) -> ReservationData:
    """Hold every line until now + ttl_seconds, or none of them.

    Idempotent by key: the reservation row is inserted first, so a second call with the same key —
    even a concurrent one — waits on the unique key, then gets the first call's reservation back without
    touching stock. Errors: InvalidLines; ProductNotFound / OutOfStock naming the SKUs at fault; for a
    repeated key, ReservationConflict (other lines), ReservationExpired or ReservationNotFound (that
    hold has since expired or been released: a caller must never believe it holds stock it does not).
    """
    wanted = _normalise_lines(lines)
    _check_key_and_ttl(key, ttl_seconds)
    now = timezone.now()
    expires_at = now + dt.timedelta(seconds=ttl_seconds)
    with transaction.atomic():
        taken = None
        if len(wanted) == 1:
            [(sku, qty)] = wanted.items()
            reservation_id, taken = sql.reservation_insert_taking_one(
                key=key, expires_at=expires_at, now=now, sku=sku, quantity=qty
            )
        else:
            reservation_id = sql.reservation_insert(key=key, expires_at=expires_at, now=now)
        if reservation_id is None:
            return selectors.reservation_unchanged(key=key, action=Action.RESERVE, now=now, lines=wanted)
        # Not taken by the claim (short, unknown or inactive): lock, check and say which SKUs.
        after = {sku: taken} if taken is not None else _take_stock(wanted, now=now)
        ReservationLine.objects.bulk_create(
            [
                ReservationLine(reservation_id=reservation_id, sku=sku, quantity=qty)
                for sku, qty in wanted.items()
            ]
        )
        Movement.objects.bulk_create(
            [
                movement(
                    sku,
                    kind=Kind.RESERVATION,
                    reserved_delta=qty,
                    on_hand_after=after[sku][0],
                    reserved_after=after[sku][1],
                    reservation_key=key,
                    actor=actor,
                    reason="reserved",
                    created_at=now,
                )
                for sku, qty in wanted.items()
            ]
        )
        bus.publish(events.StockReserved(key=key, lines=_event_lines(wanted), expires_at=expires_at))
        for sku in wanted:
            on_hand, reserved = after[sku]
            if on_hand == reserved:
                bus.publish(events.OutOfStock(sku=sku))
    return _data(key, Status.ACTIVE.value, expires_at, wanted)


def stock_extend(*, key: str, ttl_seconds: int) -> ReservationData:
    """Push an active reservation's expiry to now + ttl_seconds (never earlier than it already is).

    Errors: InvalidLines for a bad key or ttl; ReservationNotFound (unknown or released) and
    ReservationExpired. A committed reservation, or one already expiring later, is answered as stored.
    """
    _check_key_and_ttl(key, ttl_seconds)
    now = timezone.now()
    new_expiry = now + dt.timedelta(seconds=ttl_seconds)
    with transaction.atomic():
        reservation_id = sql.reservation_extend(key=key, expires_at=new_expiry, now=now)
        if reservation_id is None:
            # With the row locked, so that the answer still holds when this transaction commits.
            return selectors.reservation_unchanged(key=key, action=Action.EXTEND, now=now, lock=True)
        lines = selectors.reservation_lines(reservation_ids=[reservation_id])[reservation_id]
    return _data(key, Status.ACTIVE.value, new_expiry, lines)


def stock_commit(*, key: str, actor: str = "service") -> ReservationData:
    """Turn an active reservation into a sale: on_hand and reserved both drop by each line's quantity.

    Committing twice answers the stored sale. Errors: ReservationNotFound (unknown or released) and
    ReservationExpired — the goods of an expired hold may already be held for someone else.
    """
    now = timezone.now()
    with transaction.atomic():
        ended = sql.reservation_end(key=key, status=Status.COMMITTED.value, now=now, unexpired_only=True)
        if ended is None:
            return selectors.reservation_unchanged(key=key, action=Action.COMMIT, now=now)
        lines = ended.lines
        after = _shift({sku: (-qty, -qty) for sku, qty in lines.items()}, now=now)
        Movement.objects.bulk_create(
            [
                movement(
                    sku,
                    kind=Kind.SALE,
                    on_hand_delta=-qty,
                    reserved_delta=-qty,
                    on_hand_after=after[sku][0],
                    reserved_after=after[sku][1],
                    reservation_key=key,
                    actor=actor,
                    reason="reservation committed",
                    created_at=now,
                )
                for sku, qty in lines.items()
            ]
        )
        bus.publish(events.StockCommitted(key=key, lines=_event_lines(lines)))
    return _data(key, Status.COMMITTED.value, ended.expires_at, lines)


def stock_return(*, key: str, actor: str = "service", reason: str = "sale returned") -> ReservationData:
    """Give a committed reservation's goods back to stock: on_hand rises by each line's quantity (a
    `return` ledger row each), and the reservation becomes `returned`. Returning twice answers it as
    stored. Errors: ReservationNotFound; ReservationNotCommitted for one that is not a sale (held,
    released or expired: release it, or nothing is owed)."""
    _check_key_and_ttl(key, 1)
    now = timezone.now()
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(key=key).first()
        if reservation is None:
            raise ReservationNotFound(key)
        lines = {line.sku: line.quantity for line in reservation.lines.order_by("sku")}
        if reservation.status == Status.RETURNED:
            return _data(key, Status.RETURNED.value, reservation.expires_at, lines)
        if reservation.status != Status.COMMITTED:
            raise ReservationNotCommitted(key, reservation.status_at(now))
        after = _shift({sku: (qty, 0) for sku, qty in lines.items()}, now=now)
        Movement.objects.bulk_create(
            [
                movement(
                    sku,
                    kind=Kind.RETURN,
                    on_hand_delta=qty,
                    on_hand_after=after[sku][0],
                    reserved_after=after[sku][1],
                    reservation_key=key,
                    actor=actor,
                    reason=reason,
                    created_at=now,
                )
                for sku, qty in lines.items()
            ]
        )
        reservation.status = Status.RETURNED
        reservation.save(update_fields=["status", "updated_at"])
        bus.publish(events.StockReturned(key=key, lines=_event_lines(lines)))
    return _data(key, Status.RETURNED.value, reservation.expires_at, lines)


def _give_back(
    by_reservation: Mapping[int, Mapping[str, int]],
    *,
    keys: Mapping[int, str],
    actor: str,
    reason: str,
    now: dt.datetime,
) -> None:
    """Return the held quantities of reservations to available stock: `by_reservation` is each one's
    lines ({sku: quantity}) by id, `keys` its key by id.

    The caller has already ended them (their new status is what makes a second release a no-op). All
    their stock rows change together, locked in ascending SKU order whatever the reservations.
    """
    held: dict[str, int] = {}
    for lines in by_reservation.values():
        for sku, qty in lines.items():
            held[sku] = held.get(sku, 0) + qty
    after = _shift({sku: (0, -qty) for sku, qty in sorted(held.items())}, now=now)
    # One ledger row per line, each showing the stock as it stood once that line was given back.
    reserved = {sku: after[sku][1] + qty for sku, qty in held.items()}
    moves = []
    for rid, lines in by_reservation.items():
        for sku, qty in lines.items():
            reserved[sku] -= qty
            moves.append(
                movement(
                    sku,
                    kind=Kind.RELEASE,
                    reserved_delta=-qty,
                    on_hand_after=after[sku][0],
                    reserved_after=reserved[sku],
                    reservation_key=keys[rid],
                    actor=actor,
                    reason=reason,
                    created_at=now,
                )
            )
    Movement.objects.bulk_create(moves)
    for sku in sorted(held):
        on_hand, reserved_after = after[sku]
        publish_availability(sku, on_hand - reserved_after - held[sku], on_hand - reserved_after)


def stock_release(*, key: str, actor: str = "service", reason: str = "released") -> ReservationData:
    """Give an active reservation's goods back. Releasing twice, or after expiry, answers it as stored.

    Errors: ReservationNotFound; ReservationCommitted — a sale is not given back by a release.
    """
    now = timezone.now()
    with transaction.atomic():
        ended = sql.reservation_end(key=key, status=Status.RELEASED.value, now=now, unexpired_only=False)
        if ended is None:
            return selectors.reservation_unchanged(key=key, action=Action.RELEASE, now=now)
        _give_back({ended.id: ended.lines}, keys={ended.id: key}, actor=actor, reason=reason, now=now)
        bus.publish(events.StockReleased(key=key, lines=_event_lines(ended.lines)))
    return _data(key, Status.RELEASED.value, ended.expires_at, ended.lines)


def reservations_release_expired(*, batch: int = 200) -> int:
    """Release every active reservation past its expiry; returns how many. Safe to run concurrently:
    rows are claimed with SKIP LOCKED, and one being committed or released right now is skipped."""
    now = timezone.now()
    released = 0
    while True:
        with transaction.atomic():
            due = list(
                Reservation.objects.select_for_update(skip_locked=True)
                .filter(status=Status.ACTIVE.value, expires_at__lte=now)
                .order_by("expires_at", "id")[:batch]
            )
            if not due:
                return released
            Reservation.objects.filter(id__in=[r.id for r in due]).update(
                status=Status.EXPIRED, updated_at=now
            )
            lines = selectors.reservation_lines(reservation_ids=[r.id for r in due])
            _give_back(lines, keys={r.id: r.key for r in due}, actor=SWEEPER_ACTOR, reason="expired", now=now)
            for r in due:
                bus.publish(
                    events.ReservationExpired(
                        key=r.key, lines=_event_lines(lines[r.id]), expired_at=r.expires_at
                    )
                )
            released += len(due)
