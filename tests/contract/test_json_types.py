"""A JSON body's values have the types the schema documents; query strings keep DRF's coercion.

integration.edge.jsontypes: DRF alone would take `0` for a boolean, `5` for a string, `"5"` for an
integer and `19.99` (a float) for a decimal string, all of which the OpenAPI schema calls invalid.
"""

import pytest
from rest_framework.test import APIClient

from contexts.catalog.models import Product
from tests.users.conftest import UserFactory, assert_problem, bearer_client, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    user = UserFactory(is_staff=True)
    return bearer_client(login(APIClient(), user.email)["access"])


@pytest.fixture
def customer():
    user = UserFactory()
    return bearer_client(login(APIClient(), user.email)["access"])


PRODUCT = {"sku": "TYPED-1", "name": "Typed", "price": "19.99", "currency": "EUR"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", 19.99),
        ("price", 19),
        # Decimal() would take these; the schema's decimal string does not.
        *(("price", text) for text in ("1e2", "+5", "1_000", " 10 ", "\uff11\uff10", "10.", ".5")),
        ("name", 5),
        ("currency", ["EUR"]),
        ("active", 1),
        ("active", "true"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_400_naming_the_field(staff, field, value):
    response = staff.post("/api/v1/products/", {**PRODUCT, field: value}, format="json")
    assert field in assert_problem(response, 400, "validation-error")["errors"]
    assert not Product.objects.exists()


def test_the_documented_types_are_accepted(staff):
    response = staff.post("/api/v1/products/", {**PRODUCT, "active": False}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["active"] is False


@pytest.mark.parametrize("value", [0, "false", "no"])
def test_a_nested_boolean_must_be_a_boolean(customer, value):
    response = customer.patch(
        "/api/v1/users/me/", {"preferences": {"marketing_opt_in": value}}, format="json"
    )
    assert "preferences.marketing_opt_in" in assert_problem(response, 400)["errors"]


def test_an_integer_must_be_a_json_integer(staff):
    staff.post("/api/v1/products/", PRODUCT, format="json")
    for delta in ("5", 5.0, True):
        response = staff.post(
            "/api/v1/inventory/TYPED-1/adjustments/", {"delta": delta, "reason": "count"}, format="json"
        )
        assert "delta" in assert_problem(response, 400)["errors"], delta
    ok = staff.post("/api/v1/inventory/TYPED-1/adjustments/", {"delta": 5, "reason": "count"}, format="json")
    assert ok.status_code == 201, ok.content


def test_a_choice_of_strings_takes_only_a_string(staff):
    staff.post("/api/v1/products/", PRODUCT, format="json")
    response = staff.post(
        "/api/v1/inventory/TYPED-1/adjustments/",
        {"delta": 5, "reason": "count", "kind": ["receipt"]},
        format="json",
    )
    assert "kind" in assert_problem(response, 400)["errors"]


def test_query_strings_keep_their_coercions(staff):
    staff.post("/api/v1/products/", PRODUCT, format="json")
    for in_stock in ("false", "0", "no"):
        response = APIClient().get("/api/v1/products/", {"in_stock": in_stock, "min_price": "1"})
        assert response.status_code == 200, (in_stock, response.content)
        assert [p["sku"] for p in response.json()["results"]] == ["TYPED-1"]
