"""The reservation hot path's statements, written in SQL that PostgreSQL and SQLite both run.

Reserve, release, commit and extend run on every checkout, and building their queries through the ORM
cost several times what running them did. So their statements are spelled out here, once, as templates
whose table and column names come from the models' _meta (`{Stock}` is the quoted table, `{Stock.reserved}`
a quoted column), rendered per database vendor and cached. Values are prepared for the backend here too
(datetimes through connection.ops). The services decide what the statements mean; nothing here raises a
domain error or publishes an event.

Locking: a statement that changes one stock row locks just that row; several rows are locked with
SELECT ... FOR UPDATE in ascending SKU order first (on SQLite, which has no row locks, writers are
serialised by the IMMEDIATE transactions the settings ask for).
"""

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence

from contexts.catalog.models import Movement, Product, Reservation, ReservationLine, Stock
from integration import sql

Status = Reservation.Status

_run = functools.partial(sql.run, models=(Product, Stock, Movement, Reservation, ReservationLine))


# --- reservations ------------------------------------------------------------------------------------

_CLAIM_KEY = (
    "INSERT INTO {Reservation} ({Reservation.key}, {Reservation.status}, {Reservation.expires_at},"
    " {Reservation.created_at}, {Reservation.updated_at}) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT ({Reservation.key}) DO NOTHING RETURNING {Reservation.id}"
)


def reservation_insert(*, key: str, expires_at: dt.datetime, now: dt.datetime) -> int | None:
    """Insert an active reservation under `key` and return its id, or None if the key is taken.

    INSERT ... ON CONFLICT DO NOTHING does in one round trip what create() inside a savepoint does in
    three. A concurrent insert of the same key waits for the other transaction: if that commits, nothing
    is inserted here; if it rolls back, this one wins.
    """
    rows = _run(
        _CLAIM_KEY, [key, Status.ACTIVE.value, sql.db_time(expires_at), sql.db_time(now), sql.db_time(now)]
    )
    return rows[0][0] if rows else None


_END_ACTIVE = (
    "UPDATE {Reservation} SET {Reservation.status} = %s, {Reservation.updated_at} = %s"
    " WHERE {Reservation.key} = %s AND {Reservation.status} = %s{unexpired}"
    " RETURNING {Reservation.id}, {Reservation.expires_at}"
)


def reservation_end(
    *, key: str, status: str, now: dt.datetime, unexpired_only: bool
) -> tuple[int, dt.datetime] | None:
    """Move the active reservation under `key` to `status`; return its (id, expires_at), or None if
    there is no such active reservation (or, with `unexpired_only`, it is past its expiry).

    The UPDATE locks the row and re-checks the status once a concurrent change to it commits, so of two
    racing calls exactly one ends the reservation; the loser's caller finds out why from the row.
    """
    params = [status, sql.db_time(now), key, Status.ACTIVE.value]
    if unexpired_only:
        params.append(sql.db_time(now))
    rows = _run(_END_ACTIVE, params, unexpired=_UNEXPIRED if unexpired_only else "")
    return (rows[0][0], sql.aware(rows[0][1])) if rows else None


_UNEXPIRED = " AND {Reservation.expires_at} > %s"

_EXTEND = (
    "UPDATE {Reservation} SET {Reservation.expires_at} = %s, {Reservation.updated_at} = %s"
    " WHERE {Reservation.key} = %s AND {Reservation.status} = %s"
    " AND {Reservation.expires_at} > %s AND {Reservation.expires_at} < %s RETURNING {Reservation.id}"
)


def reservation_extend(*, key: str, expires_at: dt.datetime, now: dt.datetime) -> int | None:
    """Push an active, unexpired reservation's expiry out to `expires_at`; its id, or None if it is not
    active, already expired, or already expires at or after `expires_at`."""
    db_expires_at = sql.db_time(expires_at)
    rows = _run(
        _EXTEND, [db_expires_at, sql.db_time(now), key, Status.ACTIVE.value, sql.db_time(now), db_expires_at]
    )
    return rows[0][0] if rows else None


_LINES_OF = (
    "SELECT {ReservationLine.reservation}, {ReservationLine.sku}, {ReservationLine.quantity}"
    " FROM {ReservationLine} WHERE {ReservationLine.reservation} IN ({ids}) ORDER BY {ReservationLine.sku}"
)


def lines_of(reservation_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Each reservation's lines, {sku: quantity} in ascending SKU order, by reservation id."""
    by_reservation: dict[int, dict[str, int]] = {rid: {} for rid in reservation_ids}
    for ids in sql.chunks(list(by_reservation)):
        for rid, sku, quantity in _run(_LINES_OF, ids, ids=sql.marks(len(ids))):
            by_reservation[rid][sku] = quantity
    return by_reservation


_INSERT_LINES = (
    "INSERT INTO {ReservationLine} ({ReservationLine.reservation}, {ReservationLine.sku},"
    " {ReservationLine.quantity}) VALUES {rows}"
)


def lines_insert(reservation_id: int, lines: Mapping[str, int]) -> None:
    _insert(_INSERT_LINES, [(reservation_id, sku, qty) for sku, qty in lines.items()])


# --- stock -------------------------------------------------------------------------------------------

# Stock's key column is its `product` field (db_column "sku").
_ACTIVE_PRODUCT = (
    " AND EXISTS (SELECT 1 FROM {Product} WHERE {Product}.{Product.sku} = {Stock}.{Stock.product}"
    " AND {Product}.{Product.is_active} = %s)"
)

_TAKE_ONE = (
    "UPDATE {Stock} SET {Stock.reserved} = {Stock.reserved} + %s, {Stock.updated_at} = %s"
    " WHERE {Stock.product} = %s AND {Stock.on_hand} - {Stock.reserved} >= %s{active}"
    " RETURNING {Stock.on_hand}, {Stock.reserved}"
)


def stock_take_one(*, sku: str, quantity: int, now: dt.datetime) -> tuple[int, int] | None:
    """Reserve `quantity` of an active product's SKU if that many are available; its new (on_hand,
    reserved), or None if it is unknown, inactive or short.

    One conditional UPDATE: it locks just this row, and when a concurrent reservation of the SKU commits
    first, PostgreSQL re-checks the availability against the committed row, so it can never oversell.
    """
    rows = _run(_TAKE_ONE, [quantity, sql.db_time(now), sku, quantity, True], active=_ACTIVE_PRODUCT)
    return rows[0] if rows else None


_LOCK = (
    "SELECT {Stock.product}, {Stock.on_hand}, {Stock.reserved} FROM {Stock}"
    " WHERE {Stock.product} IN ({skus}){active} ORDER BY {Stock.product}{lock}"
)


def stocks_lock(skus: Iterable[str], *, active_only: bool = False) -> dict[str, tuple[int, int]]:
    """Lock the stock rows of `skus` in ascending SKU order (the global lock order); (on_hand, reserved)
    by SKU. With `active_only`, the rows of unknown and inactive products are left out."""
    active = _ACTIVE_PRODUCT if active_only else ""
    locked: dict[str, tuple[int, int]] = {}
    for skus_chunk in sql.chunks(sorted(set(skus))):
        params = [*skus_chunk, True] if active_only else skus_chunk
        rows = _run(_LOCK, params, skus=sql.marks(len(skus_chunk)), active=active, lock=sql.lock_clause())
        locked.update((sku, (on_hand, reserved)) for sku, on_hand, reserved in rows)
    return locked


_SHIFT_ONE = (
    "UPDATE {Stock} SET {Stock.on_hand} = {Stock.on_hand} + %s, {Stock.reserved} = {Stock.reserved} + %s,"
    " {Stock.updated_at} = %s WHERE {Stock.product} = %s RETURNING {Stock.on_hand}, {Stock.reserved}"
)

_SHIFT_MANY = (
    "UPDATE {Stock} SET {Stock.on_hand} = {Stock.on_hand} + CASE {Stock.product} {on_hand} ELSE 0 END,"
    " {Stock.reserved} = {Stock.reserved} + CASE {Stock.product} {reserved} ELSE 0 END,"
    " {Stock.updated_at} = %s WHERE {Stock.product} IN ({skus})"
    " RETURNING {Stock.product}, {Stock.on_hand}, {Stock.reserved}"
)


def stocks_shift(
    deltas: Mapping[str, tuple[int, int]], *, now: dt.datetime, locked: bool = False
) -> dict[str, tuple[int, int]]:
    """Add (on_hand, reserved) `deltas` to stock rows; return their new (on_hand, reserved) by SKU.

    A single row is locked by its own UPDATE. Several are first locked in ascending SKU order, unless the
    caller holds them already (`locked`), then changed by one UPDATE ... CASE per chunk.
    """
    if len(deltas) == 1:
        [(sku, (on_hand, reserved))] = deltas.items()
        rows = _run(_SHIFT_ONE, [on_hand, reserved, sql.db_time(now), sku])
        return {sku: rows[0]} if rows else {}
    if not locked:
        stocks_lock(deltas)
    after: dict[str, tuple[int, int]] = {}
    for skus in sql.chunks(sorted(deltas)):
        on_hand_cases = [v for sku in skus for v in (sku, deltas[sku][0])]
        reserved_cases = [v for sku in skus for v in (sku, deltas[sku][1])]
        cases = " ".join(["WHEN %s THEN %s"] * len(skus))
        rows = _run(
            _SHIFT_MANY,
            [*on_hand_cases, *reserved_cases, sql.db_time(now), *skus],
            on_hand=cases,
            reserved=cases,
            skus=sql.marks(len(skus)),
        )
        after.update((sku, (on_hand_after, reserved_after)) for sku, on_hand_after, reserved_after in rows)
    return after


_INSERT_MOVEMENTS = (
    "INSERT INTO {Movement} ({Movement.stock}, {Movement.reservation_key}, {Movement.on_hand_delta},"
    " {Movement.reserved_delta}, {Movement.on_hand_after}, {Movement.reserved_after}, {Movement.kind},"
    " {Movement.actor}, {Movement.reason}, {Movement.created_at}) VALUES {rows}"
)


def movements_insert(
    moves: Iterable[tuple[str, str, int, int, int, int]],
    *,
    kind: str,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> None:
    """Write ledger rows; each move is (sku, reservation_key, on_hand_delta, reserved_delta, on_hand_after,
    reserved_after), the rest is common to all of them."""
    common = (kind, actor, reason, sql.db_time(now))
    _insert(_INSERT_MOVEMENTS, [(*move, *common) for move in moves])


def _insert(template: str, rows: Sequence[tuple]) -> None:
    """Multi-row INSERT of `rows` (values prepared for the database): one statement per chunk."""
    for chunk in sql.chunks(rows):
        _run(template, [v for row in chunk for v in row], rows=sql.marks(len(chunk), len(chunk[0])))
