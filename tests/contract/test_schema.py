"""The OpenAPI schema clients generate code from: valid, warning-free, and exact where it used to lie.

The schema is generated as `manage.py spectacular --validate --fail-on-warn` generates it (the OpenAPI
3.0 meta-schema check included), then read back. The inference in integration.edge.schema is also
tried on throwaway views, since every endpoint added later is described by it.
"""

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.views import APIView

from integration.edge.permissions import IsStaff
from integration.edge.schema import problems
from integration.errors import Conflict

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    # Raises (SchemaGenerationError) on any warning or error, and on an invalid OpenAPI document.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(out.read_text())


def _op(schema: dict, method: str, template: str) -> dict:
    return schema["paths"][template][method]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = schema["components"][kind][name]
    return node


def _operations(schema: dict):
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, template, operation


def test_only_the_public_api_is_described(schema):
    assert schema["paths"]
    assert all(template.startswith("/api/v1/") for template in schema["paths"])


def test_the_category_tree_is_an_array_of_nested_nodes(schema):
    body = _op(schema, "get", "/api/v1/categories/")["responses"]["200"]["content"]["application/json"]
    assert body["schema"]["type"] == "array"
    node = _resolve(schema, body["schema"]["items"])
    assert node["required"] == ["children", "name", "slug"]
    assert node["properties"]["children"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/CategoryNode"},
    }


@pytest.mark.parametrize(
    ("template", "item"), [("/api/v1/products/", "ProductListItem"), ("/api/v1/users/", "StaffUser")]
)
def test_lists_answer_the_page_envelope_with_bounded_page_parameters(schema, template, item):
    operation = _op(schema, "get", template)
    page = _resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"] == {
        "type": "array",
        "items": {"$ref": f"#/components/schemas/{item}"},
    }
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert (params["page"]["minimum"], params["page"]["maximum"]) == (1, 10_000_000)
    assert (params["page_size"]["minimum"], params["page_size"]["maximum"]) == (1, 999_999_999)


def test_security_per_operation(schema):
    bearer, optional = [{"bearerAuth": []}], [{"bearerAuth": []}, {}]
    expected = {
        ("get", "/api/v1/products/"): None,  # public browsing
        ("get", "/api/v1/categories/"): None,
        ("post", "/api/v1/auth/register/"): None,
        ("post", "/api/v1/auth/token/"): None,
        ("post", "/api/v1/auth/token/refresh/"): None,
        ("get", "/api/v1/products/{sku}/"): optional,  # staff also see inactive products
        ("post", "/api/v1/products/"): bearer,
        ("get", "/api/v1/users/me/"): bearer,
        ("post", "/api/v1/auth/logout-all/"): bearer,
        ("get", "/api/v1/inventory/{sku}/"): bearer,
    }
    assert {key: _op(schema, *key).get("security") for key in expected} == expected
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_error_response_is_a_problem(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert problem["required"] == ["status", "title", "type"]
    assert {"type", "title", "status", "detail", "request_id", "errors"} <= set(problem["properties"])
    count = 0
    for _method, _template, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                count += 1
                content = _resolve(schema, response)["content"]
                assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert count > 50
    assert _resolve(schema, {"$ref": "#/components/responses/RateLimited"})["headers"]["Retry-After"][
        "required"
    ]


@pytest.mark.parametrize(
    ("method", "template", "statuses"),
    [
        ("get", "/api/v1/products/", {"400", "401", "406", "429", "503"}),
        ("post", "/api/v1/products/", {"400", "401", "403", "406", "409", "413", "415", "422", "429", "503"}),
        ("get", "/api/v1/products/{sku}/", {"401", "404", "406", "429", "503"}),
        (
            "patch",
            "/api/v1/products/{sku}/",
            {"400", "401", "403", "404", "406", "409", "412", "413", "415", "422", "429", "503"},
        ),
        ("post", "/api/v1/auth/token/", {"400", "401", "406", "413", "415", "429", "503"}),
        ("post", "/api/v1/auth/register/", {"400", "406", "409", "413", "415", "429", "503"}),
        ("post", "/api/v1/auth/logout-all/", {"401", "406", "429", "503"}),
        ("get", "/api/v1/categories/", {"401", "406", "429", "503"}),
    ],
)
def test_each_operation_documents_the_problems_it_can_answer(schema, method, template, statuses):
    documented = {s for s in _op(schema, method, template)["responses"] if int(s) >= 400}
    assert documented == statuses


def test_declared_problems_name_their_types(schema):
    conflict = _resolve(schema, _op(schema, "post", "/api/v1/products/")["responses"]["409"])
    assert "`product-exists`" in conflict["description"]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("TokenObtainRequest", "email"),
        ("TokenObtainRequest", "password"),
        ("RefreshRequest", "refresh"),
        ("RegisterRequest", "email"),
        ("RegisterRequest", "password"),
    ],
)
def test_request_schemas_refuse_what_the_api_refuses(schema, component, field):
    prop = schema["components"]["schemas"][component]["properties"][field]
    assert prop.get("minLength", 0) >= 1 or prop.get("format") == "email", prop
    assert field in schema["components"]["schemas"][component]["required"]


def test_a_blank_text_field_and_a_malformed_decimal_do_not_match_the_schema(schema):
    refresh = schema["components"]["schemas"]["RefreshRequest"]["properties"]["refresh"]
    assert not re.search(refresh["pattern"], "   ")  # DRF trims, then finds it blank
    price = schema["components"]["schemas"]["ProductWriteRequest"]["properties"]["price"]["pattern"]
    for bad in ("", "-", ".", "1.", ".5", "-1", "1.234", "٣"):
        assert not re.search(price, bad), bad
    for good in ("0", "19.99", "1500"):
        assert re.search(price, good), good


def test_currencies_and_countries_are_enums(schema):
    components = schema["components"]["schemas"]
    currencies = components["CurrencyEnum"]["enum"]
    assert "EUR" in currencies and "JPY" in currencies and "XXX" not in currencies
    assert "KWD" not in currencies  # 3 decimal places: a 2-place price column cannot hold them
    assert "DE" in components["CountryEnum"]["enum"] and len(components["CountryEnum"]["enum"]) == 249


def test_the_product_patch_body_has_no_sku(schema):
    body = _op(schema, "patch", "/api/v1/products/{sku}/")["requestBody"]["content"]["application/json"]
    assert "sku" not in _resolve(schema, body["schema"])["properties"]


def test_members_no_field_reads_must_still_be_storable_json(schema):
    register = schema["components"]["schemas"]["RegisterRequest"]
    assert register["additionalProperties"] == {"$ref": "#/components/schemas/JSONValue"}
    number = next(b for b in schema["components"]["schemas"]["JSONValue"]["anyOf"] if b["type"] == "number")
    assert (number["minimum"], number["maximum"]) == (-(2**63), 2**63 - 1)


# --- the inference, on endpoints that do not exist yet ------------------------------------------------


class _Body(serializers.Serializer):
    name = serializers.CharField(max_length=10)


class _Taken(Conflict):
    code = "thing-taken"


class _ReadsTheBody(BasePermission):
    """A permission that cannot be asked without a real request: assumed to refuse anyone."""

    def has_permission(self, request, view):
        return request.data["owner"] == request.user.id


class _MemberThing(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request, key: str): ...


class _StaffWrite(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=_Body,
        responses={201: _Body, **problems(_Taken)},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)],
    )
    def post(self, request): ...


class _Open(APIView):
    authentication_classes = []
    throttle_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: _Body})
    def get(self, request): ...


class _Listing(GenericAPIView):
    permission_classes = [AllowAny]
    serializer_class = _Body

    def get(self, request): ...


class _Owned(APIView):
    permission_classes = [_ReadsTheBody]

    @extend_schema(responses={204: None})
    def delete(self, request): ...


@pytest.fixture(scope="module")
def probes() -> dict:
    patterns = [
        path("api/v1/probe/member/<str:key>/", _MemberThing.as_view()),
        path("api/v1/probe/staff/", _StaffWrite.as_view()),
        path("api/v1/probe/open/", _Open.as_view()),
        path("api/v1/probe/listing/", _Listing.as_view()),
        path("api/v1/probe/owned/", _Owned.as_view()),
        path("internal/probe/", _Open.as_view()),  # not public: not described
    ]
    return SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)


def _problems_of(operation: dict) -> set[int]:
    return {int(s) for s in operation["responses"] if int(s) >= 400}


def test_an_endpoint_for_members_needs_a_token_and_may_not_find_its_object(probes):
    operation = probes["paths"]["/api/v1/probe/member/{key}/"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert _problems_of(operation) == {401, 404, 406, 429, 503}


def test_a_staff_write_documents_its_body_refusals_and_declared_errors(probes):
    operation = probes["paths"]["/api/v1/probe/staff/"]["post"]
    assert _problems_of(operation) == {400, 401, 403, 406, 409, 412, 413, 415, 429, 503}
    assert "`thing-taken`" in operation["responses"]["409"]["description"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/_BodyRequest"
    }
    body = probes["components"]["schemas"]["_BodyRequest"]["properties"]["name"]
    assert (body["minLength"], body["maxLength"], body["pattern"]) == (1, 10, r"\S")


def test_an_endpoint_that_authenticates_and_throttles_no_one_documents_no_such_problems(probes):
    operation = probes["paths"]["/api/v1/probe/open/"]["get"]
    assert "security" not in operation
    assert _problems_of(operation) == {406}


def test_a_paginated_get_is_a_list_of_pages(probes):
    operation = probes["paths"]["/api/v1/probe/listing/"]["get"]
    page = _resolve(probes, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/_Body"}
    assert "security" not in operation and 400 in _problems_of(operation)  # page and page_size


def test_a_permission_that_cannot_be_asked_is_assumed_to_refuse(probes):
    operation = probes["paths"]["/api/v1/probe/owned/"]["delete"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert {401, 403} <= _problems_of(operation)


def test_only_shared_statuses_or_known_kinds_can_be_declared():
    with pytest.raises(ValueError, match="no shared problem response"):
        problems(418)
    with pytest.raises(ValueError, match="of no kind"):
        problems(type("Bare", (Exception,), {}))
