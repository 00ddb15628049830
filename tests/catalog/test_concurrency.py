"""Races on PostgreSQL with real threads, each on its own connection.

No oversell, no deadlock, one reservation per key.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from django.db import connection, connections
from django.db.models import Sum

from contexts.catalog import api
from contexts.catalog.models import Movement, Reservation, Stock
from tests.catalog.conftest import make_product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The PostgreSQL server is shared (max_connections 100): this many threads, each with its connection.
THREADS = 40
L = api.StockLine


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serialises writers instead")


def race(calls: Iterable[Callable[[], object]], threads: int = THREADS) -> Counter:
    """Run `calls` from `threads` threads released together; count outcomes by exception name."""
    calls = list(calls)
    chunks = [calls[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def worker(chunk):
        try:
            barrier.wait()
            for call in chunk:
                try:
                    call()
                    outcomes.append("ok")
                except Exception as exc:
                    outcomes.append(type(exc).__name__ + ("(deadlock)" if "deadlock" in str(exc) else ""))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a worker hung"
    return Counter(outcomes)


def ledger(sku):
    return Movement.objects.filter(stock_id=sku).aggregate(
        on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
    )


def test_200_concurrent_reservations_against_10_in_stock_never_oversell():
    make_product("HOT", stock=10)

    def reserve(i):
        return lambda: api.stock_reserve(key=f"buyer-{i}:reserve", lines=[L(sku="HOT", quantity=1)], ttl=300)

    outcomes = race(reserve(i) for i in range(200))
    assert outcomes == Counter({"ok": 10, "OutOfStock": 190})
    stock = Stock.objects.get(pk="HOT")
    assert (stock.on_hand, stock.reserved) == (10, 10)
    assert Reservation.objects.filter(status="active").count() == 10
    assert ledger("HOT") == {"on_hand": 10, "reserved": 10}
    assert not Movement.objects.filter(on_hand_after__lt=0).exists()
    assert not Movement.objects.filter(reserved_after__gt=10).exists()


def test_100_pairs_reserving_a_b_and_b_a_finish_without_deadlock():
    make_product("A", stock=1000)
    make_product("B", stock=1000)

    def pair(i):
        def run():
            # Half ask for A then B, half for B then A; each reserves and then releases.
            lines = [L(sku="A", quantity=1), L(sku="B", quantity=1)]
            api.stock_reserve(key=f"pair-{i}", lines=lines if i % 2 else lines[::-1], ttl=300)
            api.stock_release(key=f"pair-{i}")

        return run

    outcomes = race(pair(i) for i in range(200))
    assert outcomes == Counter({"ok": 200})
    for sku in "AB":
        stock = Stock.objects.get(pk=sku)
        assert (stock.on_hand, stock.reserved) == (1000, 0)
        assert ledger(sku) == {"on_hand": 1000, "reserved": 0}


def test_concurrent_calls_with_the_same_key_reserve_once():
    make_product("A", stock=100)
    outcomes = race(
        [lambda: api.stock_reserve(key="saga-9:reserve", lines=[L(sku="A", quantity=3)], ttl=300)] * 60
    )
    assert outcomes == Counter({"ok": 60})
    assert Stock.objects.get(pk="A").reserved == 3
    assert Movement.objects.filter(kind="reservation").count() == 1


def test_commit_release_and_sweep_racing_on_one_key_leave_consistent_stock():
    make_product("A", stock=50)
    for i in range(40):
        api.stock_reserve(key=f"r{i}", lines=[L(sku="A", quantity=1)], ttl=300)
    calls = []
    for i in range(40):
        calls += [lambda i=i: api.stock_commit(key=f"r{i}"), lambda i=i: api.stock_release(key=f"r{i}")]
    outcomes = race(calls)
    # Per key, whichever came first won; the loser saw a clean, typed error.
    assert set(outcomes) <= {"ok", "ReservationCommitted", "ReservationNotFound"}
    committed = Reservation.objects.filter(status="committed").count()
    assert committed + Reservation.objects.filter(status="released").count() == 40
    stock = Stock.objects.get(pk="A")
    assert (stock.on_hand, stock.reserved) == (50 - committed, 0)
    assert ledger("A") == {"on_hand": 50 - committed, "reserved": 0}
