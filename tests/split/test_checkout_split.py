"""The order checkout end to end with payments and notifications extracted (tests/split/conftest.py):
the saga's payments calls cross HTTP to the service, events cross RabbitMQ both ways, the service keeps
its rows in its own database, and the outcomes are those of the monolith's end-to-end tests."""

import datetime as dt
import uuid
from decimal import Decimal

import httpx
import pytest

from contexts.catalog import api as catalog
from contexts.catalog.models import Reservation
from contexts.notifications.models import Notification
from contexts.orders.models import Saga
from contexts.payments import api as payments
from contexts.payments.models import Payment, SandboxCharge
from contexts.shipping import api as shipping
from integration.bus.models import OutboxMessage
from integration.tokens import user_tokens_revoke
from tests.catalog.conftest import bearer, make_product
from tests.orders.conftest import ADDRESS
from tests.orders.test_end_to_end import TERMINAL, order_of
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

OUTBOX = OutboxMessage._meta.db_table
CHARGES = SandboxCharge._meta.db_table
NOTIFICATIONS = Notification._meta.db_table
PAYMENTS = Payment._meta.db_table


def http_checkout(client: httpx.Client, *, method="pm_sandbox_ok", lines=None, request_id=None) -> str:
    body = {"shipping_address": ADDRESS, "payment_method": method}
    if lines is not None:
        body["lines"] = lines
    headers = {"Idempotency-Key": str(uuid.uuid4()), **({"X-Request-ID": request_id} if request_id else {})}
    response = client.post("/api/v1/orders/", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def settled_over_http(client: httpx.Client, order_id: str, timeout: float = 90) -> str:
    wait_until(
        lambda: client.get(f"/api/v1/orders/{order_id}/").json()["status"] in TERMINAL,
        timeout=timeout,
        interval=0.3,
        message=f"order {order_id} settled",
    )
    saga = Saga.objects.get(order_id=order_id)
    assert saga.status in ("completed", "compensated", "failed"), saga.status
    return client.get(f"/api/v1/orders/{order_id}/").json()["status"]


def customer(split, user_id=None) -> httpx.Client:
    """An HTTP client of the monolith's gunicorn carrying a customer's token."""
    user_id = user_id or uuid.uuid4()
    user_tokens_revoke(user_id=user_id, valid_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    return httpx.Client(
        base_url=split.monolith.url(),
        headers={"Authorization": bearer("customer", user_id=user_id)},
        timeout=30,
    )


def test_the_happy_path_across_the_split(split):
    make_product("SPLIT-MUG", price="12.50", stock=10)
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=split.monolith.url(), timeout=30) as anonymous:
        assert (
            anonymous.post(
                "/api/v1/auth/register/", json={"email": email, "password": "a-Good-passw0rd"}
            ).status_code
            == 201
        )
        tokens = anonymous.post(
            "/api/v1/auth/token/", json={"email": email, "password": "a-Good-passw0rd"}
        ).json()
    client = httpx.Client(
        base_url=split.monolith.url(), headers={"Authorization": f"Bearer {tokens['access']}"}, timeout=30
    )
    assert client.post("/api/v1/cart/items/", json={"sku": "SPLIT-MUG", "quantity": 2}).status_code == 201

    order_id = http_checkout(client, request_id="checkout-split-0001")
    assert settled_over_http(client, order_id) == "ready_to_ship"

    order = order_of(order_id)
    saga = Saga.objects.get(order=order)
    level = catalog.stock_level(sku="SPLIT-MUG")
    assert (level.on_hand, level.reserved) == (8, 0)
    assert Reservation.objects.get(key=f"{saga.id}:reserve").status == "committed"
    # The payment was taken by the service (its api over HTTP), and its row is in the service's
    # database, not in the monolith's.
    [payment] = payments.payments_for_order(order_id=order.id)
    assert (payment.status, payment.captured_amount) == ("captured", Decimal("25.00"))
    assert split.rows(f"SELECT status FROM {PAYMENTS} WHERE order_id = %s", (order.id,)) == [("captured",)]
    assert not Payment.objects.using("default").filter(order_id=order.id).exists()
    assert Payment.objects.get(order_id=order.id).status == "captured"  # (read where it lives)
    [shipment] = shipping.shipments_for_order(order_id=order.id)
    assert shipment.status == "label_purchased"
    # Each side's outbox holds its own contexts' events, all under the checkout's correlation id.
    mine = OutboxMessage.objects.filter(payload__order_id=str(order.id)) | OutboxMessage.objects.filter(
        payload__key=f"{saga.id}:reserve"
    )
    assert {
        "orders.OrderPlaced.v1",
        "catalog.StockReserved.v1",
        "shipping.ShipmentCreated.v1",
        "catalog.StockCommitted.v1",
        "orders.OrderConfirmed.v1",
    } <= set(mine.values_list("type", flat=True))
    assert not mine.filter(type__startswith="payments.").exists()
    theirs = split.rows(
        f"SELECT type, correlation_id FROM {OUTBOX} WHERE payload->>'order_id' = %s", (str(order.id),)
    )
    assert {"payments.PaymentAuthorized.v1", "payments.PaymentCaptured.v1"} <= {t for t, _ in theirs}
    assert set(mine.values_list("correlation_id", flat=True)) | {c for _, c in theirs} == {
        "checkout-split-0001"
    }
    # orders.OrderConfirmed.v1 crossed RabbitMQ to the service's notifications, which asked the
    # monolith's users api (HTTP) for the address and sent the email.
    sent = lambda: split.rows(  # noqa: E731
        f"SELECT recipient FROM {NOTIFICATIONS} WHERE event_type = %s AND user_id = %s"
        " AND channel = 'email' AND status = 'sent'",
        ("orders.OrderConfirmed.v1", order.user_id),
    )
    assert wait_until(sent, timeout=30, message="the confirmation email") == [(email,)]
    assert not Notification.objects.using("default").filter(user_id=order.user_id).exists()


@pytest.mark.parametrize(
    ("method", "reason"),
    [
        ("pm_sandbox_declined", "payment_declined"),
        ("pm_sandbox_error", "provider_unavailable"),
        ("pm_sandbox_timeout_after_charge", "provider_unavailable"),
    ],
    ids=["declined", "provider-down", "authorize-answer-lost"],
)
def test_each_payment_failure_compensates_across_the_split(split, method, reason):
    make_product("SPLIT-TEA", price="4.00", stock=5)
    client = customer(split)
    order_id = http_checkout(client, method=method, lines=[{"sku": "SPLIT-TEA", "quantity": 2}])
    assert settled_over_http(client, order_id) == "cancelled"
    order = order_of(order_id)
    assert order.cancellation_reason == reason
    saga = Saga.objects.get(order=order)
    assert not Reservation.objects.filter(key__startswith=f"{saga.id}:", status="active").exists()
    for payment in payments.payments_for_order(order_id=order.id):
        assert payment.status in ("voided", "failed", "refunded"), payment.status
        assert payment.captured_amount == payment.refunded_amount
    charges = split.rows(f"SELECT status FROM {CHARGES} WHERE key LIKE %s", (f"{saga.id}:%",))
    assert not [s for (s,) in charges if s in ("authorized", "captured")]
    if method == "pm_sandbox_timeout_after_charge":
        # The provider did charge: the compensation looked it up by key, across the wire, and voided it.
        assert charges == [("voided",)]
    for shipment in shipping.shipments_for_order(order_id=order.id):
        assert shipment.status == "cancelled"
    level = catalog.stock_level(sku="SPLIT-TEA")
    assert (level.on_hand, level.reserved) == (5, 0)
