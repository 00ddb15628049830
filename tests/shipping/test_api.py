"""GET /api/v1/shipments/ and /shipments/{id}/: the caller's own shipments, with their timelines."""

import uuid

import pytest
from rest_framework.test import APIClient

from contexts.shipping import services
from tests.shipping.conftest import T0, create
from tests.users.conftest import UserFactory, assert_problem, bearer_client, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    user = UserFactory()
    return user, bearer_client(login(APIClient(), user.email)["access"])


def test_the_list_is_the_callers_shipments_newest_first_with_their_timelines(customer):
    user, client = customer
    older = create(key="o1:ship", user_id=user.id)
    newer = create(key="o2:ship", user_id=user.id, order_id=uuid.uuid4())
    create(key="other:ship", user_id=uuid.uuid4())  # someone else's
    services.tracking_event_add(
        shipment_id=older.id, status="in_transit", occurred_at=T0, location="Hub", actor="test"
    )
    response = client.get("/api/v1/shipments/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert [s["id"] for s in body["results"]] == [str(newer.id), str(older.id)]
    shown = body["results"][1]
    assert shown["status"] == "in_transit" and shown["tracking_number"] == older.tracking_number
    assert shown["tracking_events"] == [
        {
            "status": "in_transit",
            "location": "Hub",
            "occurred_at": "2025-03-01T09:00:00Z",
            "carrier_event_id": shown["tracking_events"][0]["carrier_event_id"],
        }
    ]
    assert shown["address"]["country"] == "GB" and shown["lines"] == [
        {"sku": "MUG-1", "quantity": 2},
        {"sku": "TEA-1", "quantity": 1},
    ]
    assert "user_id" not in shown and "key" not in shown


def test_the_list_filters_by_order(customer):
    user, client = customer
    order = uuid.uuid4()
    wanted = create(key="a:ship", user_id=user.id, order_id=order)
    create(key="b:ship", user_id=user.id, order_id=uuid.uuid4())
    body = client.get("/api/v1/shipments/", {"order_id": str(order)}).json()
    assert [s["id"] for s in body["results"]] == [str(wanted.id)]
    assert_problem(client.get("/api/v1/shipments/", {"order_id": "nope"}), 400, "validation-error")


def test_the_detail_is_the_callers_own_and_another_users_is_a_404(customer):
    user, client = customer
    own = create(key="own:ship", user_id=user.id)
    theirs = create(key="theirs:ship", user_id=uuid.uuid4())
    response = client.get(f"/api/v1/shipments/{own.id}/")
    assert response.status_code == 200 and response.json()["id"] == str(own.id)
    for path in (
        f"/api/v1/shipments/{theirs.id}/",
        f"/api/v1/shipments/{uuid.uuid4()}/",
        "/api/v1/shipments/x/",
    ):
        assert_problem(client.get(path), 404)
    assert (
        assert_problem(client.get("/api/v1/shipments/not-a-uuid/"), 404)["detail"]
        == "No shipment has this id."
    )


def test_staff_see_their_own_shipments_here_too():
    operator = UserFactory(is_staff=True)
    client = bearer_client(login(APIClient(), operator.email)["access"])
    someone = create(key="someone:ship", user_id=uuid.uuid4())
    assert client.get("/api/v1/shipments/").json()["count"] == 0
    assert_problem(client.get(f"/api/v1/shipments/{someone.id}/"), 404)


def test_shipments_need_a_token(db):
    assert_problem(APIClient().get("/api/v1/shipments/"), 401)


def test_a_listing_costs_the_same_queries_for_one_shipment_or_many(customer, django_assert_max_num_queries):
    user, client = customer
    for i in range(6):
        create(key=f"n{i}:ship", user_id=user.id)
    # Token check, count, page, lines, events: not one query per shipment.
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/shipments/").json()["count"] == 6


def test_the_schema_describes_the_shipping_operations_as_they_behave():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    listing = schema["paths"]["/api/v1/shipments/"]["get"]
    assert listing["security"] == [{"bearerAuth": []}]
    detail = schema["paths"]["/api/v1/shipments/{shipment_id}/"]["get"]
    assert {s for s in detail["responses"] if int(s) >= 400} == {"401", "404", "406", "429", "503"}
    webhook = schema["paths"]["/api/v1/shipping/webhooks/{carrier}/"]["post"]
    assert "security" not in webhook  # the signature is the authentication
    assert {s for s in webhook["responses"] if int(s) >= 400} == {
        "400",
        "404",
        "406",
        "413",
        "415",
        "429",
        "503",
    }
    assert "`webhook-signature-invalid`" in webhook["responses"]["400"]["description"]
    parameters = {p["name"]: p for p in webhook["parameters"]}
    assert parameters["Shop-Signature"]["required"] is True
    assert parameters["carrier"]["schema"]["enum"] == ["sandbox"]
    components = schema["components"]["schemas"]
    assert components["TrackingStatusEnum"]["enum"] == [
        "in_transit",
        "out_for_delivery",
        "failed_delivery",
        "delivered",
        "returned",
    ]
    assert "cancelled" in components["ShipmentStatusEnum"]["enum"]
