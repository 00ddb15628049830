"""The cart endpoints: the caller's own cart, priced live, with clear 4xx for bad lines."""

import uuid
from decimal import Decimal

import pytest

from contexts.catalog import services as catalog_services
from contexts.orders.models import CartItem
from tests.catalog.conftest import make_product
from tests.payments.conftest import client_for

pytestmark = pytest.mark.django_db

ALICE = uuid.UUID("00000000-0000-4000-8000-0000000a11ce")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")


def add(client, sku, quantity=1):
    return client.post("/api/v1/cart/items/", {"sku": sku, "quantity": quantity}, format="json")


def test_an_empty_cart():
    body = client_for(ALICE).get("/api/v1/cart/").json()
    assert body == {"lines": [], "subtotal": None, "currency": None, "warnings": []}


def test_adding_pricing_and_adding_again_onto_the_same_line():
    make_product("MUG-1", price="9.50", stock=10)
    make_product("TEA-1", price="4.25", stock=10)
    alice = client_for(ALICE)
    assert add(alice, "MUG-1", 2).status_code == 201
    response = add(alice, "MUG-1", 3)
    assert response.status_code == 201
    add(alice, "TEA-1")
    cart = alice.get("/api/v1/cart/").json()
    assert [
        (line["sku"], line["quantity"], line["unit_price"], line["line_total"]) for line in cart["lines"]
    ] == [
        ("MUG-1", 5, "9.50", "47.50"),
        ("TEA-1", 1, "4.25", "4.25"),
    ]
    assert (cart["subtotal"], cart["currency"], cart["warnings"]) == ("51.75", "EUR", [])
    assert all(line["warning"] is None for line in cart["lines"])


def test_prices_are_live_and_short_stock_is_flagged_per_line():
    make_product("MUG-1", price="9.50", stock=3)
    alice = client_for(ALICE)
    add(alice, "MUG-1", 5)
    catalog_services.product_update(sku="MUG-1", price=Decimal("11.00"))
    line = alice.get("/api/v1/cart/").json()["lines"][0]
    assert line["unit_price"] == "11.00" and line["line_total"] == "55.00"
    assert line["warning"] == {"code": "insufficient-stock", "detail": "Only 3 available.", "available": 3}


def test_a_product_deactivated_after_it_was_added_is_flagged_not_an_error():
    make_product("MUG-1", stock=3)
    make_product("OLD-1", stock=3)
    alice = client_for(ALICE)
    add(alice, "MUG-1")
    add(alice, "OLD-1")
    catalog_services.product_update(sku="OLD-1", active=False)
    cart = alice.get("/api/v1/cart/").json()
    old = next(line for line in cart["lines"] if line["sku"] == "OLD-1")
    assert old["unit_price"] is None and old["warning"]["code"] == "product-unavailable"
    assert cart["subtotal"] == "10.00"


def test_two_currencies_are_flagged_in_the_cart():
    make_product("MUG-1", stock=3)
    make_product("MUG-US", stock=3, currency="USD")
    alice = client_for(ALICE)
    add(alice, "MUG-1")
    add(alice, "MUG-US")
    cart = alice.get("/api/v1/cart/").json()
    assert cart["subtotal"] is None and cart["currency"] is None
    assert cart["warnings"][0]["code"] == "mixed-currencies"


@pytest.mark.parametrize("quantity", [0, -1, 101, "2", 1.5, None])
def test_a_quantity_is_a_whole_number_from_1_to_100(quantity):
    make_product("MUG-1", stock=3)
    response = add(client_for(ALICE), "MUG-1", quantity)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "quantity" in response.json()["errors"]


def test_adding_past_100_units_of_one_product_is_refused():
    make_product("MUG-1", stock=300)
    alice = client_for(ALICE)
    add(alice, "MUG-1", 60)
    response = add(alice, "MUG-1", 41)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/quantity-limit-exceeded")
    assert CartItem.objects.get().quantity == 60


def test_unknown_and_inactive_skus_are_refused():
    make_product("GONE-1", stock=3, active=False)
    alice = client_for(ALICE)
    for sku in ("NOPE-1", "GONE-1"):
        response = add(alice, sku)
        assert response.status_code == 422, sku
        assert response.json()["type"].endswith("/product-unavailable")
        assert response.json()["skus"] == [sku]
    assert add(alice, "").status_code == 400


def test_patch_and_delete_a_line_and_nobody_elses():
    make_product("MUG-1", stock=3)
    alice, bob = client_for(ALICE), client_for(BOB)
    add(alice, "MUG-1", 2)
    item_id = alice.get("/api/v1/cart/").json()["lines"][0]["id"]
    path = f"/api/v1/cart/items/{item_id}/"

    assert bob.patch(path, {"quantity": 9}, format="json").status_code == 404
    assert bob.delete(path).status_code == 204  # removes nothing: the line is not in Bob's cart
    assert CartItem.objects.filter(id=item_id).exists()
    assert alice.patch(path, {"quantity": 101}, format="json").status_code == 400
    assert alice.patch(path, {}, format="json").json()["lines"][0]["quantity"] == 2  # nothing to change
    response = alice.patch(path, {"quantity": 7, "unit_price": "0.01"}, format="json")
    assert response.status_code == 200
    assert response.json()["lines"][0]["quantity"] == 7
    assert response.json()["lines"][0]["unit_price"] == "10.00"
    assert alice.delete(path).status_code == 204
    assert alice.delete(path).status_code == 204  # idempotent
    assert alice.get("/api/v1/cart/").json()["lines"] == []
    assert alice.delete("/api/v1/cart/items/not-a-uuid/").status_code == 404


def test_the_cart_needs_a_token(api_client):
    assert api_client.get("/api/v1/cart/").status_code == 401
