"""The catalog's hand-written SQL: only what the ORM cannot say in one statement, on the checkout path.

The project's rule (README, "Performance"): the ORM by default; SQL by hand only for a statement the ORM
cannot express in one round trip (INSERT ... ON CONFLICT ... RETURNING, UPDATE ... RETURNING, a
conditional UPDATE whose WHERE re-checks the row it locks), and only where `make bench-catalog` shows
the gain. Reserve, release, commit and extend run on every checkout; each of these statements replaces
two or three ORM round trips (a savepoint and a retry for the key claim, an update() then a read-back for
the stock levels). Reading and inserting reservation lines, the ledger and ordered row locks are ORM
(services.reservations).

Statements are templates whose names come from the models' _meta (`{Stock}` is the quoted table,
`{Stock.reserved}` a quoted column), rendered once per database vendor, and run on PostgreSQL and SQLite
alike. The services decide what a statement's answer means; nothing here raises a domain error or
publishes an event.
"""

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection

from contexts.catalog.models import Product, Reservation, ReservationLine, Stock
from integration import sql

Status = Reservation.Status

_run = functools.partial(sql.run, models=(Product, Stock, Reservation, ReservationLine))


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


# Claiming the key and taking one SKU's stock as one data-modifying CTE (PostgreSQL): the take runs only
# if the claim inserted a row. Reserving one SKU, the common checkout, is then one round trip.
_CLAIM_AND_TAKE_ONE = (
    "WITH claim AS ("
    "INSERT INTO {Reservation} ({Reservation.key}, {Reservation.status}, {Reservation.expires_at},"
    " {Reservation.created_at}, {Reservation.updated_at}) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT ({Reservation.key}) DO NOTHING RETURNING {Reservation.id}"
    "), taken AS ("
    "UPDATE {Stock} SET {Stock.reserved} = {Stock.reserved} + %s, {Stock.updated_at} = %s"
    " WHERE {Stock.product} = %s AND {Stock.on_hand} - {Stock.reserved} >= %s{active}"
    " AND EXISTS (SELECT 1 FROM claim) RETURNING {Stock.on_hand}, {Stock.reserved}"
    ") SELECT claim.{Reservation.id}, taken.{Stock.on_hand}, taken.{Stock.reserved}"
    " FROM claim LEFT JOIN taken ON TRUE"
)


def reservation_insert_taking_one(
    *, key: str, expires_at: dt.datetime, now: dt.datetime, sku: str, quantity: int
) -> tuple[int | None, tuple[int, int] | None]:
    """reservation_insert, then stock_take_one if the key was claimed: (reservation id or None if the
    key is taken, the SKU's new (on_hand, reserved) or None if it could not be taken). One statement on
    PostgreSQL, two elsewhere."""
    if connection.vendor != "postgresql":
        reservation_id = reservation_insert(key=key, expires_at=expires_at, now=now)
        if reservation_id is None:
            return None, None
        return reservation_id, stock_take_one(sku=sku, quantity=quantity, now=now)
    db_now = sql.db_time(now)
    params = [
        key,
        Status.ACTIVE.value,
        sql.db_time(expires_at),
        db_now,
        db_now,
        quantity,
        db_now,
        sku,
        quantity,
        True,
    ]
    rows = _run(_CLAIM_AND_TAKE_ONE, params, active=_ACTIVE_PRODUCT)
    if not rows:
        return None, None
    reservation_id, on_hand, reserved = rows[0]
    return reservation_id, (None if on_hand is None else (on_hand, reserved))


_END_ACTIVE = (
    "UPDATE {Reservation} SET {Reservation.status} = %s, {Reservation.updated_at} = %s"
    " WHERE {Reservation.key} = %s AND {Reservation.status} = %s{unexpired}"
    " RETURNING {Reservation.id}, {Reservation.expires_at}"
)

# The same UPDATE as a data-modifying CTE (PostgreSQL), answering the ended reservation's lines with it:
# one round trip where the UPDATE and a read of the lines would be two.
_END_ACTIVE_WITH_LINES = (
    "WITH ended AS ("
    "UPDATE {Reservation} SET {Reservation.status} = %s, {Reservation.updated_at} = %s"
    " WHERE {Reservation.key} = %s AND {Reservation.status} = %s{unexpired}"
    " RETURNING {Reservation.id}, {Reservation.expires_at}"
    ") SELECT ended.{Reservation.id}, ended.{Reservation.expires_at}, line.{ReservationLine.sku},"
    " line.{ReservationLine.quantity} FROM ended LEFT JOIN {ReservationLine} line"
    " ON line.{ReservationLine.reservation} = ended.{Reservation.id} ORDER BY line.{ReservationLine.sku}"
)


@dataclass(frozen=True)
class Ended:
    id: int
    expires_at: dt.datetime
    lines: dict[str, int]  # {sku: quantity}, ascending SKU


def reservation_end(*, key: str, status: str, now: dt.datetime, unexpired_only: bool) -> Ended | None:
    """Move the active reservation under `key` to `status` and return it with its lines, or None if
    there is no such active reservation (or, with `unexpired_only`, it is past its expiry).

    The UPDATE locks the row and re-checks the status once a concurrent change to it commits, so of two
    racing calls exactly one ends the reservation; the loser's caller finds out why from the row. On
    PostgreSQL one statement; SQLite has no data-modifying CTEs, so there the lines are a second query.
    """
    params = [status, sql.db_time(now), key, Status.ACTIVE.value]
    if unexpired_only:
        params.append(sql.db_time(now))
    unexpired = _UNEXPIRED if unexpired_only else ""
    if connection.vendor == "postgresql":
        rows = _run(_END_ACTIVE_WITH_LINES, params, unexpired=unexpired)
        if not rows:
            return None
        lines = {sku: qty for _, _, sku, qty in rows if sku is not None}
        return Ended(id=rows[0][0], expires_at=rows[0][1], lines=lines)
    rows = _run(_END_ACTIVE, params, unexpired=unexpired)
    if not rows:
        return None
    lines = (
        ReservationLine.objects.filter(reservation_id=rows[0][0])
        .order_by("sku")
        .values_list("sku", "quantity")
    )
    return Ended(id=rows[0][0], expires_at=sql.aware(rows[0][1]), lines=dict(lines))


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


def stocks_shift(deltas: Mapping[str, tuple[int, int]], *, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Add (on_hand, reserved) `deltas` to stock rows; return their new (on_hand, reserved) by SKU.

    The ORM's update() answers only a row count; reading the new levels back would be a second
    statement. A single row is locked by this UPDATE itself; several rows must already be locked by the
    caller, in ascending SKU order (the global lock order), and change in one UPDATE ... CASE per chunk.
    """
    if len(deltas) == 1:
        [(sku, (on_hand, reserved))] = deltas.items()
        rows = _run(_SHIFT_ONE, [on_hand, reserved, sql.db_time(now), sku])
        return {sku: rows[0]} if rows else {}
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
