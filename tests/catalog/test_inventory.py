"""Inventory through the api module and the staff endpoints: idempotency, expiry, ledger and events."""

import datetime as dt

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from contexts.catalog import api, tasks
from contexts.catalog.models import Movement, Reservation, Stock
from integration import errors
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import STAFF_ID, make_product

pytestmark = pytest.mark.django_db

L = api.StockLine


def level(sku):
    s = api.stock_level(sku=sku)
    return s.on_hand, s.reserved, s.available


def published(type_name):
    return list(
        OutboxMessage.objects.filter(type=type_name).order_by("created_at").values_list("payload", flat=True)
    )


def assert_ledger_balances(sku):
    stock = Stock.objects.get(pk=sku)
    sums = Movement.objects.filter(stock_id=sku).aggregate(
        on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
    )
    assert (sums["on_hand"] or 0, sums["reserved"] or 0) == (stock.on_hand, stock.reserved)


def test_reserve_commit_release_move_stock_and_write_the_ledger(db):
    make_product("A", stock=10)
    make_product("B", stock=5)
    r = api.stock_reserve(
        key="saga-1:reserve", lines=[L(sku="B", quantity=2), L(sku="A", quantity=3)], ttl=600
    )
    assert r.status == "active"
    assert r.lines == (L(sku="A", quantity=3), L(sku="B", quantity=2))
    assert level("A") == (10, 3, 7)
    committed = api.stock_commit(key="saga-1:reserve")
    assert committed.status == "committed"
    assert level("A") == (7, 0, 7)
    assert level("B") == (3, 0, 3)
    api.stock_reserve(key="saga-2:reserve", lines=[L(sku="A", quantity=7)], ttl=600)
    assert level("A") == (7, 7, 0)
    released = api.stock_release(key="saga-2:reserve")
    assert released.status == "released"
    assert level("A") == (7, 0, 7)
    kinds = list(Movement.objects.filter(stock_id="A").order_by("id").values_list("kind", flat=True))
    assert kinds == ["receipt", "reservation", "sale", "reservation", "release"]
    for sku in "AB":
        assert_ledger_balances(sku)
    assert [e["key"] for e in published("catalog.StockReserved.v1")] == ["saga-1:reserve", "saga-2:reserve"]
    assert published("catalog.StockCommitted.v1")[0]["lines"] == [
        {"sku": "A", "quantity": 3},
        {"sku": "B", "quantity": 2},
    ]
    assert published("catalog.StockReleased.v1")[0]["key"] == "saga-2:reserve"
    # Available hit zero on the second reservation and came back on its release.
    assert published("catalog.OutOfStock.v1") == [{"sku": "A"}]
    assert published("catalog.StockReplenished.v1")[-1] == {"sku": "A", "available": 7}


def test_repeating_a_key_has_no_second_effect(db):
    make_product("A", stock=5)
    lines = [L(sku="A", quantity=2)]
    first = api.stock_reserve(key="k", lines=lines, ttl=60)
    assert api.stock_reserve(key="k", lines=lines, ttl=60) == first
    assert level("A") == (5, 2, 3)
    assert api.stock_commit(key="k") == api.stock_commit(key="k")
    assert level("A") == (3, 0, 3)
    # A committed reservation cannot be "reserved" again under the same key, nor released.
    assert api.stock_reserve(key="k", lines=lines, ttl=60).status == "committed"
    with pytest.raises(api.ReservationCommitted):
        api.stock_release(key="k")
    api.stock_reserve(key="k2", lines=lines, ttl=60)
    api.stock_release(key="k2")
    api.stock_release(key="k2")
    assert level("A") == (3, 0, 3)
    assert len(published("catalog.StockReserved.v1")) == 2
    assert len(published("catalog.StockReleased.v1")) == 1
    assert_ledger_balances("A")


def test_reusing_a_key_for_other_lines_is_a_conflict(db):
    make_product("A", stock=5)
    api.stock_reserve(key="k", lines=[L(sku="A", quantity=1)], ttl=60)
    with pytest.raises(api.ReservationConflict):
        api.stock_reserve(key="k", lines=[L(sku="A", quantity=2)], ttl=60)


def test_reserving_is_all_or_nothing_and_names_the_short_skus(db):
    make_product("A", stock=5)
    make_product("B", stock=1)
    make_product("C", stock=0)
    with pytest.raises(api.OutOfStock) as exc:
        api.stock_reserve(
            key="k", lines=[L(sku="A", quantity=2), L(sku="B", quantity=2), L(sku="C", quantity=1)], ttl=60
        )
    assert exc.value.skus == ("B", "C")
    assert level("A") == (5, 0, 5)
    assert not Reservation.objects.exists()
    # Once it failed, the key is free: a retry with stock back succeeds.
    api.stock_reserve(key="k", lines=[L(sku="A", quantity=2)], ttl=60)


def test_unknown_or_inactive_skus_and_bad_lines(db):
    make_product("A", stock=5)
    make_product("GONE", stock=5, active=False)
    with pytest.raises(api.ProductNotFound) as exc:
        api.stock_reserve(
            key="k", lines=[L(sku="A", quantity=1), L(sku="GONE", quantity=1), L(sku="X", quantity=1)], ttl=60
        )
    assert exc.value.skus == ("GONE", "X")
    for lines, ttl in (([], 60), ([L(sku="A", quantity=0)], 60), ([L(sku="A", quantity=1)], 0)):
        with pytest.raises(api.InvalidLines):
            api.stock_reserve(key="k", lines=lines, ttl=ttl)
    with pytest.raises(api.ReservationNotFound):
        api.stock_commit(key="never")


def test_an_expired_reservation_is_swept_the_next_buyer_succeeds_and_its_commit_fails():
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        make_product("LAST", stock=1)
        api.stock_reserve(key="slow:reserve", lines=[L(sku="LAST", quantity=1)], ttl=60)
        with pytest.raises(api.OutOfStock):
            api.stock_reserve(key="other:reserve", lines=[L(sku="LAST", quantity=1)], ttl=60)
        clock.shift(dt.timedelta(seconds=30))
        api.stock_extend(key="slow:reserve", ttl=60)  # now expires at start + 90s
        clock.shift(dt.timedelta(seconds=59))
        assert tasks.release_expired_reservations() == 0
        clock.shift(dt.timedelta(seconds=2))
        # Past the expiry but before the sweep: it cannot be committed or extended any more.
        with pytest.raises(api.ReservationExpired):
            api.stock_commit(key="slow:reserve")
        assert tasks.release_expired_reservations() == 1
        assert tasks.release_expired_reservations() == 0
        assert level("LAST") == (1, 0, 1)
        assert Reservation.objects.get(key="slow:reserve").status == "expired"
        assert published("catalog.ReservationExpired.v1") == [
            {
                "key": "slow:reserve",
                "lines": [{"sku": "LAST", "quantity": 1}],
                "expired_at": (start + dt.timedelta(seconds=90)).isoformat(),
            }
        ]
        api.stock_reserve(key="next:reserve", lines=[L(sku="LAST", quantity=1)], ttl=60)
        with pytest.raises(api.ReservationExpired) as exc:
            api.stock_commit(key="slow:reserve")
        assert isinstance(exc.value, errors.Conflict)  # the edge answers 409
        with pytest.raises(api.ReservationExpired):
            api.stock_extend(key="slow:reserve", ttl=60)
        assert api.stock_release(key="slow:reserve").status == "expired"  # a no-op
        api.stock_commit(key="next:reserve")
        assert level("LAST") == (0, 0, 0)
        assert_ledger_balances("LAST")


def test_the_beat_schedule_runs_the_sweeper(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["catalog.release_expired_reservations"]
    assert entry["task"] == tasks.release_expired_reservations.name == "catalog.release_expired_reservations"


def test_products_price_answers_in_one_query(db, django_assert_num_queries):
    make_product("A", price="1.50")
    make_product("B", price="2.25", currency="USD")
    make_product("OFF", active=False)
    with django_assert_num_queries(1):
        prices = api.products_price(skus=["B", "A"])
    assert [(p.sku, str(p.unit_price), p.currency) for p in prices] == [
        ("B", "2.25", "USD"),
        ("A", "1.50", "EUR"),
    ]
    with pytest.raises(api.ProductNotFound) as exc:
        api.products_price(skus=["A", "OFF", "ZZZ"])
    assert exc.value.skus == ("OFF", "ZZZ")
    assert api.product_get(sku="A").price == prices[1].unit_price


# --- staff endpoints --------------------------------------------------------------------------------


def test_staff_adjust_stock_with_a_reason_and_see_the_ledger(staff_client, db):
    make_product("A", stock=2)
    api.stock_reserve(key="k", lines=[L(sku="A", quantity=2)], ttl=60)
    url = "/api/v1/inventory/A/"
    receipt = staff_client.post(
        f"{url}adjustments/", {"delta": 5, "reason": "delivery 42", "kind": "receipt"}, format="json"
    )
    assert receipt.status_code == 201, receipt.content
    assert receipt.json() == {"sku": "A", "on_hand": 7, "reserved": 2, "available": 5}
    # Never below what is reserved.
    too_much = staff_client.post(f"{url}adjustments/", {"delta": -6, "reason": "broken"}, format="json")
    assert too_much.status_code == 409
    assert too_much.json()["type"].endswith("/stock-adjustment-rejected")
    assert (
        staff_client.post(f"{url}adjustments/", {"delta": -5, "reason": "broken"}, format="json").status_code
        == 201
    )
    assert staff_client.post(f"{url}adjustments/", {"delta": 1}, format="json").status_code == 400
    assert (
        staff_client.post(f"{url}adjustments/", {"delta": 0, "reason": "x"}, format="json").status_code == 400
    )
    body = staff_client.get(url).json()
    assert (body["on_hand"], body["reserved"], body["available"]) == (2, 2, 0)
    assert [m["kind"] for m in body["ledger"]] == ["adjustment", "receipt", "reservation", "receipt"]
    assert body["ledger"][0] | {"created_at": None} == {
        "kind": "adjustment",
        "on_hand_delta": -5,
        "reserved_delta": 0,
        "on_hand_after": 2,
        "reserved_after": 2,
        "reservation_key": "",
        "actor": f"user:{STAFF_ID}",
        "reason": "broken",
        "created_at": None,
    }
    assert staff_client.get("/api/v1/inventory/NOPE/").status_code == 404
    assert_ledger_balances("A")


def test_inventory_endpoints_are_staff_only(customer_client, api_client, db):
    make_product("A", stock=2)
    assert customer_client.get("/api/v1/inventory/A/").status_code == 403
    assert (
        customer_client.post(
            "/api/v1/inventory/A/adjustments/", {"delta": 1, "reason": "x"}, format="json"
        ).status_code
        == 403
    )
    assert api_client.get("/api/v1/inventory/A/").status_code == 401
    assert level("A") == (2, 0, 2)


def test_reservations_and_ledger_rows_are_protected_by_database_constraints(db):
    from django.db import IntegrityError, transaction

    make_product("A", stock=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk="A").update(reserved=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk="A").update(reserved=-1)
    api.stock_reserve(key="k", lines=[L(sku="A", quantity=1)], ttl=60)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(key="k", expires_at=timezone.now())


def test_replaying_a_key_whose_hold_is_gone_says_so(db):
    make_product("A", stock=5)
    lines = [L(sku="A", quantity=1)]
    api.stock_reserve(key="gone", lines=lines, ttl=60)
    api.stock_release(key="gone")
    with pytest.raises(api.ReservationNotFound):
        api.stock_reserve(key="gone", lines=lines, ttl=60)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        api.stock_reserve(key="late", lines=lines, ttl=60)
        clock.shift(61)
        # Expired but not yet swept: still not a hold the caller may count on.
        with pytest.raises(api.ReservationExpired):
            api.stock_reserve(key="late", lines=lines, ttl=60)
    assert level("A") == (5, 1, 4)  # the unswept expired hold, until the sweeper runs


def test_a_committed_sale_is_returned_to_stock_once(db):
    make_product("RET-1", stock=5)
    make_product("RET-2", stock=5)
    lines = [api.StockLine(sku="RET-1", quantity=2), api.StockLine(sku="RET-2", quantity=1)]
    api.stock_reserve(key="o:reserve", lines=lines, ttl=60)
    api.stock_commit(key="o:reserve")
    assert level("RET-1") == (3, 0, 3)
    # Releasing a sale is refused; returning it puts the goods back on hand, once.
    with pytest.raises(api.ReservationCommitted):
        api.stock_release(key="o:reserve")
    assert api.stock_return(key="o:reserve").status == "returned"
    assert api.stock_return(key="o:reserve").status == "returned"
    assert (level("RET-1"), level("RET-2")) == ((5, 0, 5), (5, 0, 5))
    assert Movement.objects.filter(kind="return").count() == 2
    assert len(published("catalog.StockReturned.v1")) == 1
    assert_ledger_balances("RET-1")
    # Nothing is held under the key any more: a release is a no-op, a commit or an extend refused.
    assert api.stock_release(key="o:reserve").status == "returned"
    with pytest.raises(api.ReservationNotFound):
        api.stock_commit(key="o:reserve")


def test_only_a_sale_can_be_returned(db):
    make_product("RET-3", stock=5)
    api.stock_reserve(key="held", lines=[api.StockLine(sku="RET-3", quantity=1)], ttl=60)
    with pytest.raises(api.ReservationNotCommitted) as caught:
        api.stock_return(key="held")
    assert caught.value.reservation_status == "active"
    with pytest.raises(api.ReservationNotFound):
        api.stock_return(key="never")
    assert level("RET-3") == (5, 1, 4)
