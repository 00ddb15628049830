"""The object-level authorization matrix: a customer reaches only their own things, for every method.

One table, ROWS, lists every endpoint that touches a customer's resources or is staff-only. Each
context appends its rows as it adds endpoints (orders, payments, shipments, notifications), and every
check below runs for every row, so a new endpoint is covered by adding one line.

Access kinds:
  OWNER  - a path naming a resource (`{...}` placeholders filled by the row's `setup`): another
           customer gets 404 (or 403), the owner does not, and the resource is unchanged afterwards.
  ME     - the caller's own resource, with no id in the path: another customer only ever reaches
           their own, so the owner's data (read back through `probe`) is unchanged and never shown.
  STAFF  - operators only: customers get 403.
  NOBODY - must not exist for customers at all (e.g. a user by id): 404 (or 403) for everyone.
Without a token every row is 401 (NOBODY rows may also be 404).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from contexts.payments import api as payments
from contexts.shipping import api as shipping

pytestmark = pytest.mark.django_db

OWNER, ME, STAFF, NOBODY = "owner", "me", "staff", "nobody"
PASSWORD = "matrix-Secret-2024"
DENIED = (403, 404)


@dataclass
class Actor:
    id: uuid.UUID
    email: str
    client: APIClient


@dataclass
class Actors:
    owner: Actor
    intruder: Actor
    staff: Actor
    anonymous: APIClient = field(default_factory=APIClient)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    access: str
    body: dict | Callable[[Actors], dict] | None = None
    # Creates the owner's resource; returns the values for the path's placeholders.
    setup: Callable[[Actors], dict[str, Any]] | None = None
    # Where the owner reads the resource back, to prove another caller changed nothing.
    probe: str | None = None
    # Request headers, as Django test client keywords (e.g. HTTP_IDEMPOTENCY_KEY).
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _owner_id(actors: Actors) -> dict[str, Any]:
    return {"owner_id": actors.owner.id}


NEW_PRODUCT = {"sku": "MATRIX-1", "name": "Matrix mug", "price": "9.50", "currency": "EUR"}


def _product(actors: Actors) -> dict[str, Any]:
    """An operator creates a product through the API; the row acts on its SKU."""
    response = actors.staff.client.post(
        "/api/v1/products/", {**NEW_PRODUCT, "sku": "MATRIX-2"}, format="json"
    )
    assert response.status_code == 201, response.content
    return {"sku": "MATRIX-2"}


def _payment(actors: Actors) -> dict[str, Any]:
    """The owner's captured payment (through the payments api, as the order saga makes one)."""
    payment = payments.payment_authorize(
        key=f"matrix-{uuid.uuid4()}",
        order_id=uuid.uuid4(),
        user_id=actors.owner.id,
        amount=Decimal("20.00"),
        currency="EUR",
        payment_method="pm_sandbox_ok",
    )
    payments.payment_capture(key=f"matrix-{payment.id}", payment_id=payment.id)
    return {"payment_id": payment.id}


def _shipment(actors: Actors) -> dict[str, Any]:
    """The owner's shipment, as the order saga creates it (through shipping's api)."""
    order_id = uuid.uuid4()
    shipment = shipping.shipment_create(
        key=f"matrix:{order_id}",
        order_id=order_id,
        user_id=actors.owner.id,
        address=shipping.AddressData(
            full_name="Owner", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
        ),
        lines=(shipping.ShipmentLineData(sku="MATRIX-1", quantity=1),),
    )
    return {"shipment_id": shipment.id, "order_id": order_id}


NOTIFICATIONS = "/api/v1/notifications/"
PREFERENCES = "/api/v1/notifications/preferences/"
DEVICES = "/api/v1/notifications/devices/"
PREFERENCES_BODY = {
    "channels": {"transactional": ["email", "sms"], "marketing": []},
    "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
    "locale": "fr",
}


def _device(actors: Actors) -> dict[str, Any]:
    """The owner registers a push device through the API; the row acts on its id."""
    response = actors.owner.client.post(
        DEVICES, {"token": "owner-device", "platform": "android"}, format="json"
    )
    assert response.status_code == 201, response.content
    return {"device_id": response.json()["id"]}


def _stocked_product(actors: Actors) -> dict[str, Any]:
    """An operator creates a product with stock through the API."""
    _product(actors)
    response = actors.staff.client.post(
        "/api/v1/inventory/MATRIX-2/adjustments/", {"delta": 50, "reason": "matrix"}, format="json"
    )
    assert response.status_code < 300, response.content
    return {"sku": "MATRIX-2"}


def _cart_item(actors: Actors) -> dict[str, Any]:
    """A line in the owner's cart."""
    _stocked_product(actors)
    response = actors.owner.client.post(
        "/api/v1/cart/items/", {"sku": "MATRIX-2", "quantity": 1}, format="json"
    )
    assert response.status_code == 201, response.content
    return {"item_id": response.json()["lines"][0]["id"]}


CHECKOUT = {
    "shipping_address": {
        "full_name": "Owner",
        "line1": "1 Main St",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
    "payment_method": "pm_sandbox_ok",
    "lines": [{"sku": "MATRIX-2", "quantity": 1}],
}


def _order(actors: Actors) -> dict[str, Any]:
    """The owner's order, checked out through the API."""
    _stocked_product(actors)
    response = actors.owner.client.post(
        "/api/v1/orders/", CHECKOUT, format="json", HTTP_IDEMPOTENCY_KEY=f"matrix-{uuid.uuid4()}"
    )
    assert response.status_code == 202, response.content
    return {"order_id": response.json()["id"]}


ROWS: list[Row] = [
    # --- users: a customer's account is only ever /users/me/; there is no user-by-id endpoint ----------
    Row("GET", "/api/v1/users/me/", ME, probe="/api/v1/users/me/"),
    Row("PATCH", "/api/v1/users/me/", ME, body={"first_name": "Mallory"}, probe="/api/v1/users/me/"),
    Row(
        "POST",
        "/api/v1/users/me/password/",
        ME,
        body={"current_password": PASSWORD, "new_password": "changed-Secret-99"},
        probe="/api/v1/users/me/",
    ),
    Row("POST", "/api/v1/auth/logout-all/", ME, probe="/api/v1/users/me/"),
    *(
        Row(method, path, NOBODY, body={"first_name": "Mallory"}, setup=_owner_id)
        for path in ("/api/v1/users/{owner_id}/", "/api/v1/users/{owner_id}/password/")
        for method in ("GET", "PUT", "PATCH", "DELETE", "POST")
    ),
    Row("GET", "/api/v1/users/", STAFF),
    # --- catalog: browsing is public; writing products and inventory is for operators only -----------
    Row("POST", "/api/v1/products/", STAFF, body=NEW_PRODUCT),
    Row("PATCH", "/api/v1/products/{sku}/", STAFF, body={"price": "12.00"}, setup=_product),
    Row("GET", "/api/v1/inventory/{sku}/", STAFF, setup=_product),
    Row(
        "POST",
        "/api/v1/inventory/{sku}/adjustments/",
        STAFF,
        body={"delta": 5, "reason": "count"},
        setup=_product,
    ),
    # --- payments: a customer sees their own payments and invoices; refunds are for operators ---------
    Row("GET", "/api/v1/payments/", ME, probe="/api/v1/payments/"),
    Row("GET", "/api/v1/payments/{payment_id}/", OWNER, setup=_payment),
    Row("GET", "/api/v1/payments/{payment_id}/invoice/", OWNER, setup=_payment),
    Row(
        "POST",
        "/api/v1/payments/{payment_id}/refunds/",
        STAFF,
        body={"amount": "1.00", "reason": "matrix"},
        setup=_payment,
        headers={"HTTP_IDEMPOTENCY_KEY": "matrix-refund"},
    ),
    # --- shipping: a customer's shipments, each with its timeline; another customer's is a 404 --------
    Row("GET", "/api/v1/shipments/{shipment_id}/", OWNER, setup=_shipment),
    Row("GET", "/api/v1/shipments/", ME, setup=_shipment, probe="/api/v1/shipments/"),
    Row("GET", "/api/v1/shipments/?order_id={order_id}", ME, setup=_shipment, probe="/api/v1/shipments/"),
    # --- notifications: the caller's own preferences, devices and log; another's device is a 404 ------
    *(Row("GET", path, ME, probe=path) for path in (NOTIFICATIONS, PREFERENCES, DEVICES)),
    Row("PUT", PREFERENCES, ME, body=PREFERENCES_BODY, probe=PREFERENCES),
    Row("POST", DEVICES, ME, body={"token": "intruder-device", "platform": "ios"}, probe=DEVICES),
    Row("DELETE", DEVICES + "{device_id}/", OWNER, setup=_device, probe=DEVICES),
    # --- orders: a customer's cart and orders are their own; another's line or order is 404 -----------
    Row("GET", "/api/v1/cart/", ME, probe="/api/v1/cart/"),
    Row(
        "POST",
        "/api/v1/cart/items/",
        ME,
        body={"sku": "MATRIX-2", "quantity": 1},
        setup=_cart_item,
        probe="/api/v1/cart/",
    ),
    Row(
        "PATCH",
        "/api/v1/cart/items/{item_id}/",
        OWNER,
        body={"quantity": 3},
        setup=_cart_item,
        probe="/api/v1/cart/",
    ),
    # DELETE is idempotent (204 whether or not the line is in the caller's cart): another customer's
    # line is never touched, which the ME check proves.
    Row("DELETE", "/api/v1/cart/items/{item_id}/", ME, setup=_cart_item, probe="/api/v1/cart/"),
    Row("GET", "/api/v1/orders/", ME, setup=_order, probe="/api/v1/orders/"),
    Row(
        "POST",
        "/api/v1/orders/",
        ME,
        body=CHECKOUT,
        setup=_order,
        probe="/api/v1/orders/",
        headers={"HTTP_IDEMPOTENCY_KEY": "matrix-checkout"},
    ),
    Row("GET", "/api/v1/orders/{order_id}/", OWNER, setup=_order),
    Row("POST", "/api/v1/orders/{order_id}/cancel/", OWNER, setup=_order, probe="/api/v1/orders/{order_id}/"),
]


def _actor(email: str, *, staff: bool = False) -> Actor:
    user = get_user_model().objects.create_user(email, PASSWORD, is_staff=staff)
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return Actor(id=user.id, email=email, client=client)


@pytest.fixture
def actors() -> Actors:
    return Actors(
        owner=_actor("owner@example.com"),
        intruder=_actor("intruder@example.com"),
        staff=_actor("operator@example.com", staff=True),
    )


def _call(client: APIClient, row: Row, actors: Actors, params: dict[str, Any]):
    body = row.body(actors) if callable(row.body) else row.body
    return getattr(client, row.method.lower())(row.path.format(**params), body, format="json", **row.headers)


def _prepare(row: Row, actors: Actors) -> dict[str, Any]:
    return row.setup(actors) if row.setup else {}


def _probe(row: Row, actors: Actors, params: dict[str, Any]):
    path = (row.probe or row.path).format(**params)
    response = actors.owner.client.get(path)
    assert response.status_code == 200, f"the owner cannot read back {path}: {response.status_code}"
    return response.json()


def _rows(*kinds: str) -> list:
    rows = [pytest.param(row, id=str(row)) for row in ROWS if row.access in kinds]
    reason = f"no {'/'.join(kinds)} endpoints yet: orders, payments, shipping and notifications add them"
    return rows or [pytest.param(None, id="none-yet", marks=pytest.mark.skip(reason=reason))]


@pytest.mark.parametrize("row", _rows(OWNER))
def test_another_customer_cannot_reach_an_owners_resource(row, actors):
    params = _prepare(row, actors)
    before = _probe(row, actors, params)
    response = _call(actors.intruder.client, row, actors, params)
    assert response.status_code in DENIED, f"{row}: {response.status_code} {response.content[:200]}"
    assert response["Content-Type"] == "application/problem+json"
    assert _probe(row, actors, params) == before
    assert _call(actors.owner.client, row, actors, params).status_code not in DENIED


@pytest.mark.parametrize("row", _rows(ME))
def test_me_endpoints_only_ever_reach_the_callers_own_account(row, actors):
    params = _prepare(row, actors)
    before = _probe(row, actors, params)
    response = _call(actors.intruder.client, row, actors, params)
    assert response.status_code < 500
    text = response.content.decode()
    assert str(actors.owner.id) not in text and actors.owner.email not in text
    # The owner's data is unchanged and their session still works.
    assert _probe(row, actors, params) == before


@pytest.mark.parametrize("row", _rows(NOBODY))
def test_endpoints_that_must_not_exist_for_customers(row, actors):
    params = _prepare(row, actors)
    for who in (actors.intruder, actors.owner):
        response = _call(who.client, row, actors, params)
        assert response.status_code in DENIED, f"{row}: {response.status_code}"
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("row", _rows(STAFF))
def test_staff_endpoints_refuse_customers(row, actors):
    params = _prepare(row, actors)
    for customer in (actors.owner, actors.intruder):
        response = _call(customer.client, row, actors, params)
        assert response.status_code == 403, f"{row}: {response.status_code}"
        assert response["Content-Type"] == "application/problem+json"
    assert _call(actors.staff.client, row, actors, params).status_code < 400


@pytest.mark.parametrize("row", _rows(OWNER, ME, STAFF, NOBODY))
def test_every_row_needs_a_token(row, actors):
    params = _prepare(row, actors)
    response = _call(actors.anonymous, row, actors, params)
    allowed = (401, 404) if row.access == NOBODY else (401,)
    assert response.status_code in allowed, f"{row}: {response.status_code}"
    assert response["Content-Type"] == "application/problem+json"


# Public without a token: browsing, signing up and in, probes and docs. None may answer 401/403.
PUBLIC = [
    ("POST", "/api/v1/auth/register/", {"email": "public@example.com", "password": PASSWORD}),
    ("POST", "/api/v1/auth/token/", {"email": "nobody@example.com", "password": "x"}),
    ("POST", "/api/v1/auth/token/refresh/", {"refresh": "x"}),
    ("GET", "/health", None),
    ("GET", "/ready", None),
    ("GET", "/api/schema/", None),
    ("GET", "/api/docs/", None),
    ("GET", "/api/v1/products/", None),
    ("GET", "/api/v1/categories/", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PUBLIC, ids=[f"{m} {p}" for m, p, _ in PUBLIC])
def test_public_endpoints_need_no_token(method, path, body):
    response = getattr(APIClient(), method.lower())(path, body, format="json")
    if path in ("/api/v1/auth/token/", "/api/v1/auth/token/refresh/"):
        # Wrong credentials are a 401 of their own kind, not a demand for a token.
        assert response.json()["type"].rsplit("/", 1)[1] in ("invalid-credentials", "token-not-valid")
    else:
        assert response.status_code not in (401, 403), f"{path}: {response.status_code}"
