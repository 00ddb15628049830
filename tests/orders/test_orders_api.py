"""Checkout and the order endpoints: 202 with Location under an Idempotency-Key, server prices only,
the caller's own orders (cursor pages, status filter), detail with timeline, cancellation."""

import base64
import uuid

import pytest
from django.contrib.auth import get_user_model

from contexts.orders.models import CartItem, Order, Saga, SagaStep
from contexts.orders.services import orders as order_services
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import make_product
from tests.orders.conftest import ADDRESS
from tests.payments.conftest import client_for

pytestmark = pytest.mark.django_db

ALICE = uuid.UUID("00000000-0000-4000-8000-0000000a11ce")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")


def checkout(client, body=None, key="checkout-1", **extra):
    body = {"shipping_address": ADDRESS, "payment_method": "pm_sandbox_ok", **(body or {})}
    return client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


@pytest.fixture
def alice():
    make_product("MUG-1", price="9.50", stock=10)
    make_product("TEA-1", price="4.25", stock=10)
    client = client_for(ALICE)
    for sku, quantity in (("MUG-1", 2), ("TEA-1", 1)):
        assert (
            client.post("/api/v1/cart/items/", {"sku": sku, "quantity": quantity}, format="json").status_code
            == 201
        )
    return client


def test_checkout_accepts_a_pending_order_priced_by_the_server_and_starts_its_saga(alice):
    response = checkout(alice, {"price": "0.01", "total": "0.01", "status": "ready_to_ship", "subtotal": "1"})

    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/orders/{body['id']}/"
    assert body["status"] == "pending" and body["cancellation_reason"] is None
    assert (body["subtotal"], body["total"], body["currency"]) == ("23.25", "23.25", "EUR")
    assert [
        (line["sku"], line["quantity"], line["unit_price"], line["line_total"]) for line in body["lines"]
    ] == [
        ("MUG-1", 2, "9.50", "19.00"),
        ("TEA-1", 1, "4.25", "4.25"),
    ]
    assert body["shipping_address"] == ADDRESS
    assert [entry["status"] for entry in body["timeline"]] == ["pending"]
    assert len(body["number"]) == 11 and body["number"][2] == "-"
    order = Order.objects.get(id=body["id"])
    assert order.user_id == ALICE and order.total == order.subtotal
    saga = Saga.objects.get(order=order)
    assert (saga.status, saga.current_step, saga.definition_version) == ("running", "reserve", 1)
    assert list(SagaStep.objects.filter(saga=saga).values_list("name", flat=True)) == [
        "reserve",
        "authorize",
        "ship",
        "confirm",
    ]
    assert CartItem.objects.count() == 0  # the cart was emptied
    placed = OutboxMessage.objects.get(type="orders.OrderPlaced.v1")
    assert placed.payload["order_id"] == body["id"] and placed.payload["total"] == "23.25"
    assert placed.correlation_id == saga.correlation_id


def test_the_same_key_replays_the_order_and_another_body_is_422(alice):
    first = checkout(alice)
    again = checkout(alice)
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    other = checkout(alice, {"payment_method": "pm_sandbox_declined"})
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    missing = alice.post("/api/v1/orders/", {"payment_method": "pm_sandbox_ok"}, format="json")
    assert missing.status_code == 400 and missing.json()["type"].endswith("/idempotency-key-required")


def test_a_checkout_run_again_after_a_lost_answer_finds_its_order():
    make_product("MUG-1", stock=10)
    from contexts.orders.services import checkout as service

    lines = [{"sku": "MUG-1", "quantity": 1}]
    first = service.order_place(
        user_id=ALICE, checkout_key="k", payment_method="pm_sandbox_ok", shipping_address=ADDRESS, lines=lines
    )
    second = service.order_place(
        user_id=ALICE, checkout_key="k", payment_method="pm_sandbox_ok", shipping_address=ADDRESS, lines=lines
    )
    assert first.id == second.id and Saga.objects.count() == 1


def test_explicit_lines_leave_the_cart_alone(alice):
    response = checkout(alice, {"lines": [{"sku": "TEA-1", "quantity": 3}, {"sku": "TEA-1", "quantity": 1}]})
    assert response.status_code == 202
    assert [(line["sku"], line["quantity"]) for line in response.json()["lines"]] == [("TEA-1", 4)]
    assert CartItem.objects.count() == 2


def test_an_empty_cart_cannot_be_checked_out():
    response = checkout(client_for(ALICE))
    assert response.status_code == 409 and response.json()["type"].endswith("/cart-empty")
    response = checkout(client_for(ALICE), {"lines": []}, key="no-lines")
    assert response.status_code == 409 and response.json()["type"].endswith("/cart-empty")


def test_two_currencies_cannot_be_checked_out_together(alice):
    make_product("MUG-US", stock=3, currency="USD")
    alice.post("/api/v1/cart/items/", {"sku": "MUG-US", "quantity": 1}, format="json")
    response = checkout(alice)
    assert response.status_code == 409
    assert response.json()["type"].endswith("/mixed-currencies")
    assert response.json()["currencies"] == ["EUR", "USD"]
    assert Order.objects.count() == 0 and CartItem.objects.count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_method": ""}, "payment_method"),
        ({"shipping_address": {"line1": "x"}}, "shipping_address"),
        ({"lines": [{"sku": "MUG-1", "quantity": 0}]}, "lines"),
        ({"lines": [{"sku": "MUG-1", "quantity": 101}]}, "lines"),
    ],
)
def test_bad_checkout_bodies_are_400(alice, body, field):
    response = checkout(alice, body, key=f"bad-{field}-{len(str(body))}")
    assert response.status_code == 400, response.content
    assert any(name.startswith(field) for name in response.json()["errors"])


def test_unknown_skus_and_quantities_over_100_in_total_are_422(alice):
    response = checkout(alice, {"lines": [{"sku": "NOPE", "quantity": 1}]}, key="a")
    assert response.status_code == 422 and response.json()["skus"] == ["NOPE"]
    response = checkout(
        alice, {"lines": [{"sku": "MUG-1", "quantity": 60}, {"sku": "MUG-1", "quantity": 41}]}, key="b"
    )
    assert response.status_code == 422 and response.json()["type"].endswith("/quantity-limit-exceeded")


def test_the_shipping_address_defaults_to_the_profiles(alice):
    response = alice.post(
        "/api/v1/orders/", {"payment_method": "pm_sandbox_ok"}, format="json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert response.status_code == 422 and response.json()["type"].endswith("/shipping-address-required")

    user = get_user_model().objects.create_user("carol@example.com", "a-long-password-1")
    user.shipping_address = {**ADDRESS, "full_name": "Carol"}
    user.save()
    carol = client_for(user.id)
    carol.post("/api/v1/cart/items/", {"sku": "MUG-1", "quantity": 1}, format="json")
    response = carol.post(
        "/api/v1/orders/", {"payment_method": "pm_sandbox_ok"}, format="json", HTTP_IDEMPOTENCY_KEY="y"
    )
    assert response.status_code == 202, response.content
    assert response.json()["shipping_address"]["full_name"] == "Carol"


def test_orders_are_the_callers_own_and_listed_newest_first_by_cursor(alice):
    ids = [
        checkout(alice, {"lines": [{"sku": "MUG-1", "quantity": 1}]}, key=f"k{i}").json()["id"]
        for i in range(3)
    ]
    bob = client_for(BOB)
    assert bob.get("/api/v1/orders/").json()["results"] == []
    assert bob.get(f"/api/v1/orders/{ids[0]}/").status_code == 404
    assert bob.post(f"/api/v1/orders/{ids[0]}/cancel/").status_code == 404
    assert alice.get(f"/api/v1/orders/{uuid.uuid4()}/").status_code == 404

    page = alice.get("/api/v1/orders/?page_size=2").json()
    assert [o["id"] for o in page["results"]] == ids[::-1][:2]
    assert page["results"][0]["total"] == "9.50"
    rest = alice.get(page["next"]).json()
    assert [o["id"] for o in rest["results"]] == [ids[0]] and rest["next"] is None
    assert alice.get("/api/v1/orders/?page_size=0").status_code == 400
    # A cursor the list never gave out is past the end, whatever it decodes to: a forged position,
    # a forged offset, a huge one, or a real one with its signature cut off.
    genuine = page["next"].split("cursor=")[1]
    forged = [
        "not-one-of-ours",
        base64.b64encode(b"p=foo").decode(),
        base64.b64encode(b"r=1").decode(),
        "A" * 5000,
        genuine.split("%3A")[0].split(":")[0],
    ]
    for cursor in forged:
        unknown = alice.get("/api/v1/orders/", {"cursor": cursor})
        assert unknown.status_code == 200, (cursor[:40], unknown.content)
        assert unknown.json() == {"next": None, "previous": None, "results": []}, cursor[:40]
    assert alice.get("/api/v1/orders/?status=bogus").status_code == 400

    Order.objects.filter(id=ids[1]).update(status="cancelled", cancellation_reason="payment_declined")
    cancelled = alice.get("/api/v1/orders/?status=cancelled").json()["results"]
    assert [(o["id"], o["cancellation_reason"]) for o in cancelled] == [(ids[1], "payment_declined")]


def test_cancel_a_pending_order_then_not_once_cancelled_or_shipped(alice):
    order_id = checkout(alice).json()["id"]
    response = alice.post(f"/api/v1/orders/{order_id}/cancel/")
    # No step has run yet, so there is nothing to undo: cancelled at once.
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["cancellation_reason"]) == (
        "cancelled",
        "customer_request",
    )
    assert Saga.objects.get(order_id=order_id).status == "compensated"
    assert OutboxMessage.objects.filter(type="orders.OrderCancelled.v1").count() == 1
    again = alice.post(f"/api/v1/orders/{order_id}/cancel/")
    assert again.status_code == 409 and again.json()["type"].endswith("/order-not-cancellable")

    shipped = checkout(alice, {"lines": [{"sku": "MUG-1", "quantity": 1}]}, key="other").json()["id"]
    Order.objects.filter(id=shipped).update(status="ready_to_ship")
    order_services.order_mark_shipped(order_id=uuid.UUID(shipped), shipment_id=uuid.uuid4())
    response = alice.post(f"/api/v1/orders/{shipped}/cancel/")
    assert response.status_code == 409 and response.json()["order_status"] == "shipped"
    assert [e["status"] for e in alice.get(f"/api/v1/orders/{shipped}/").json()["timeline"]] == [
        "pending",
        "shipped",
    ]


def test_a_key_reused_for_another_checkout_once_purged_is_a_new_order(alice):
    from integration.idempotency.models import IdempotencyKey

    first = checkout(alice, {"lines": [{"sku": "MUG-1", "quantity": 1}]}, key="reused")
    IdempotencyKey.objects.all().delete()  # 24 h later, or freed early by an operator
    second = checkout(alice, {"lines": [{"sku": "TEA-1", "quantity": 2}]}, key="reused")
    assert second.status_code == 202 and second.json()["id"] != first.json()["id"]
    assert [line["sku"] for line in second.json()["lines"]] == ["TEA-1"]
