"""Inputs that broke the catalog as an outsider sent them: currencies, stock overflow, conditional writes.

Each kind is tested where it enters (API, admin, CSV import, services), and each refusal leaves nothing
changed.
"""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, connections, transaction

from contexts.catalog import services
from contexts.catalog.data import ProductChanged, StockLimitExceeded
from contexts.catalog.models import MAX_ON_HAND, Movement, Product, Stock
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import make_product

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
NEW = {"sku": "LAMP-1", "name": "Desk lamp", "price": "39.00", "currency": "EUR"}

# --- currencies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"currency": "QQQ"}, "currency", "'QQQ' is not an active ISO 4217 currency code"),
        ({"currency": "XAU"}, "currency", "'XAU' is not an active ISO 4217 currency code"),
        ({"currency": "JPY", "price": "1500.50"}, "price", "JPY amounts have no decimal places."),
        ({"currency": "KWD", "price": "1.25"}, "currency", "KWD amounts have 3 decimal places"),
    ],
)
def test_a_product_s_currency_is_iso_4217_and_its_price_in_minor_units(staff_client, body, field, message):
    response = staff_client.post(URL, {**NEW, **body}, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert message in response.json()["errors"][field][0]
    assert not Product.objects.exists()


def test_a_price_change_is_checked_against_the_stored_currency(staff_client, api_client):
    make_product("TEA-1", price="1500", currency="JPY")
    response = staff_client.patch(f"{URL}TEA-1/", {"price": "1499.99"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"price": ["JPY amounts have no decimal places."]}
    assert Product.objects.get(sku="TEA-1").price == Decimal("1500")
    # Prices are written with their currency's places: no cents for yen.
    assert api_client.get(f"{URL}TEA-1/").json()["price"] == "1500"
    assert api_client.get(URL).json()["results"][0]["price"] == "1500"


def test_the_service_refuses_a_bad_currency_whoever_calls_it():
    with pytest.raises(ValidationError) as exc:
        services.product_create(sku="X-1", name="x", price=Decimal("1.00"), currency="QQQ")
    assert set(exc.value.message_dict) == {"currency"}
    make_product("X-2")
    with pytest.raises(ValidationError) as exc:
        services.product_update(sku="X-2", price=Decimal("1.005"))
    assert set(exc.value.message_dict) == {"price"}


def test_the_admin_and_the_csv_import_refuse_bad_currencies_as_field_errors(admin_client):
    response = admin_client.post(
        "/admin/catalog/product/add/",
        {
            "sku": "A-1",
            "name": "Alpha",
            "price": "1.50",
            "currency": "QQQ",
            "attributes": "{}",
            "images": "[]",
            "stock-TOTAL_FORMS": "0",
            "stock-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form again, with the error on its field
    assert "currency" in response.context["adminform"].form.errors
    csv = "sku,name,price,currency\nOK-1,Fine,1.00,EUR\nYEN-1,Yen,10.5,JPY\nBAD-1,Bad,1.00,QQQ\n"
    upload = SimpleUploadedFile("products.csv", csv.encode(), content_type="text/csv")
    response = admin_client.post("/admin/catalog/product/import-csv/", {"file": upload})
    assert response.status_code == 200
    assert b"JPY amounts have no decimal places." in response.content
    assert b"Line 4: currency" in response.content
    assert not Product.objects.exists()


# --- stock bounds -----------------------------------------------------------------------------------


def test_receipts_stop_at_the_stock_limit_with_a_409_not_an_overflow(staff_client):
    make_product("BOLT-1")
    Stock.objects.filter(pk="BOLT-1").update(on_hand=MAX_ON_HAND - 10)
    url = "/api/v1/inventory/BOLT-1/adjustments/"
    ok = staff_client.post(url, {"delta": 10, "reason": "delivery", "kind": "receipt"}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["on_hand"] == MAX_ON_HAND
    response = staff_client.post(url, {"delta": 1, "reason": "delivery", "kind": "receipt"}, format="json")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/stock-limit-exceeded")
    assert body["limit"] == MAX_ON_HAND
    assert Stock.objects.get(pk="BOLT-1").on_hand == MAX_ON_HAND
    assert not Movement.objects.filter(stock_id="BOLT-1", on_hand_after__gt=MAX_ON_HAND).exists()
    # A delta too large for one adjustment is refused before anything is summed.
    too_big = staff_client.post(url, {"delta": 2**31, "reason": "x", "kind": "receipt"}, format="json")
    assert too_big.status_code == 400


def test_the_limit_is_the_service_s_and_the_database_s(admin_client):
    make_product("BOLT-1", stock=5)
    Stock.objects.filter(pk="BOLT-1").update(on_hand=MAX_ON_HAND)
    with pytest.raises(StockLimitExceeded):
        services.stock_adjust(sku="BOLT-1", delta=1, reason="x", actor="test", kind="receipt")
    with pytest.raises(ValidationError):
        services.stock_adjust(sku="BOLT-1", delta=1, reason="x", actor="test", kind="sale")
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk="BOLT-1").update(on_hand=MAX_ON_HAND + 1)
    # The admin's adjustment screen says so instead of failing.
    response = admin_client.post(
        "/admin/catalog/stock/BOLT-1/change/",
        {"delta": 1, "kind": "receipt", "reason": "delivery"},
        follow=True,
    )
    assert b"would pass the limit" in response.content
    assert Stock.objects.get(pk="BOLT-1").on_hand == MAX_ON_HAND


# --- conditional headers on writes ------------------------------------------------------------------


@pytest.fixture
def lamp(db):
    make_product("LAMP-1", price="39.00", stock=3)


def _etag(client):
    return client.get(f"{URL}LAMP-1/")["ETag"]


def test_a_write_never_answers_304_if_none_match_star_is_412_and_changes_nothing(staff_client, lamp):
    response = staff_client.patch(f"{URL}LAMP-1/", {"price": "1.00"}, format="json", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/product-changed")
    assert Product.objects.get(sku="LAMP-1").price == Decimal("39.00")
    etag = _etag(staff_client)
    response = staff_client.patch(f"{URL}LAMP-1/", {"price": "1.00"}, format="json", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 412
    assert not OutboxMessage.objects.filter(type="catalog.ProductPriceChanged.v1").exists()
    # A create is never a 304 either (the collection has no tag to compare).
    created = staff_client.post(URL, {**NEW, "sku": "LAMP-2"}, format="json", HTTP_IF_NONE_MATCH="*")
    assert created.status_code == 201
    assert created.json()["sku"] == "LAMP-2"


def test_if_match_applies_a_change_only_to_the_version_read(staff_client, lamp):
    etag = _etag(staff_client)
    response = staff_client.patch(f"{URL}LAMP-1/", {"price": "35.00"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    assert response["ETag"] != etag
    assert response.json()["price"] == "35.00"
    # The same tag again is stale now: 412, and the second change is not applied.
    stale = staff_client.patch(f"{URL}LAMP-1/", {"price": "30.00"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["etag"] == response["ETag"]
    assert Product.objects.get(sku="LAMP-1").price == Decimal("35.00")
    # A weak tag never matches If-Match (strong comparison), a malformed one matches nothing, "*" any.
    weak = staff_client.patch(
        f"{URL}LAMP-1/", {"name": "x"}, format="json", HTTP_IF_MATCH=f"W/{response['ETag']}"
    )
    assert weak.status_code == 412
    assert (
        staff_client.patch(f"{URL}LAMP-1/", {"name": "x"}, format="json", HTTP_IF_MATCH="nope").status_code
        == 412
    )
    assert (
        staff_client.patch(f"{URL}LAMP-1/", {"name": "Lamp"}, format="json", HTTP_IF_MATCH="*").status_code
        == 200
    )
    assert Product.objects.get(sku="LAMP-1").name == "Lamp"


def test_stock_moving_changes_the_tag_so_if_match_sees_it(staff_client, lamp):
    etag = _etag(staff_client)
    services.stock_adjust(sku="LAMP-1", delta=1, reason="found one", actor="test")
    # `available` is part of the representation the tag stands for.
    response = staff_client.patch(f"{URL}LAMP-1/", {"name": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412


@pytest.mark.django_db(transaction=True)
def test_two_writers_with_the_same_tag_exactly_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested")
    from contexts.catalog import selectors

    make_product("LAMP-1", price="39.00")
    etag = selectors.product_etag(selectors.product_get(sku="LAMP-1"))
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def writer(i: int) -> None:
        try:
            barrier.wait()
            services.product_update(sku="LAMP-1", price=Decimal(f"{i}.00"), if_match=(etag,))
            outcomes.append("ok")
        except ProductChanged:
            outcomes.append("412")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["412"] * 7 + ["ok"]
    assert OutboxMessage.objects.filter(type="catalog.ProductPriceChanged.v1").count() == 1
