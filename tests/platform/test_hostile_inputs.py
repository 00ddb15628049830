"""Inputs that used to break the edge, one kind per section, tried on every endpoint the kind can reach.

Each kind was found by trying the running service as an outsider would: deeply nested JSON, giant
integers, text that cannot be stored (lone surrogates, NUL), unsafe methods without the trailing slash,
and health probes as load balancers send them. The sweeps read the endpoints from the URL
configuration and the OpenAPI schema, so an endpoint added later is tried too.
"""

import io
import json
import re
import uuid

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.views import APIView

from contexts.catalog.models import Product
from integration import webhooks
from integration.edge.parsers import JSONParser
from tests.catalog.conftest import make_product
from tests.users.conftest import PASSWORD, UserFactory, login

pytestmark = pytest.mark.django_db

GIANT = "9" * 4301  # one digit past what int() converts; what a query string or body may carry


def _assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"].endswith("/" + slug), body["type"]
    return body


@pytest.fixture
def staff():
    """A real staff account with a token, so every endpoint (staff ones too) reaches its input checks."""
    user = UserFactory(is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(APIClient(), user.email)['access']}")
    return client


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(*methods: str):
    """(method, concrete path, operation) for each documented operation."""
    for template, item in _schema()["paths"].items():
        for method, operation in item.items():
            if method not in methods:
                continue
            yield method, _concrete(template, item), operation


def _concrete(template: str, item: dict) -> str:
    # A path parameter whose values the schema lists (a webhook's provider) gets the first of them;
    # any other gets the SKU of the product the sweeps create (any other id: not found).
    # A uuid one (a payment's id) gets a well-formed id, so the route matches and the view runs.
    listed = {
        p["name"]: p["schema"]["enum"][0]
        for operation in item.values()
        for p in operation.get("parameters", ())
        if p["in"] == "path" and "enum" in p.get("schema", {})
    }
    listed |= {
        p["name"]: "00000000-0000-4000-8000-00000000beef"
        for operation in item.values()
        for p in operation.get("parameters", ())
        if p["in"] == "path" and p.get("schema", {}).get("format") == "uuid"
    }
    return re.sub(r"\{([^}]+)\}", lambda m: listed.get(m.group(1), "HOSTILE-1"), template)


def _raw(client, method: str, path: str, body: bytes, operation: dict | None = None):
    headers = {}
    if any(p["name"] == webhooks.SIGNATURE_HEADER for p in (operation or {}).get("parameters", ())):
        # A signed webhook reads no body before its signature verifies: sign as its sender does, with
        # every webhook secret configured (PAYMENTS_WEBHOOK_SECRET, ...).
        names = [n for n in dir(settings) if n.endswith("_WEBHOOK_SECRET")]
        secrets = [s for n in names for s in webhooks.secret_list(getattr(settings, n))]
        headers[webhooks.SIGNATURE_HEADER] = webhooks.sign(body, secret=secrets)
    if any(p["name"] == "Idempotency-Key" for p in (operation or {}).get("parameters", ())):
        headers["Idempotency-Key"] = uuid.uuid4().hex  # its absence would be refused before the body
    return getattr(client, method)(path, data=body, content_type="application/json", headers=headers)


# --- deeply nested JSON ---------------------------------------------------------------------------------


def test_942_nested_arrays_on_the_refresh_endpoint_are_a_400_problem():
    body = b"[" * 942 + b"]" * 942
    _assert_problem(_raw(APIClient(), "post", "/api/v1/auth/token/refresh/", body), 400)


@pytest.mark.parametrize("depth", [65, 900, 5000, 100_000])
def test_any_body_nested_past_the_limit_is_a_400_naming_the_limit(depth):
    body = b'{"a":' * depth + b"1" + b"}" * depth
    problem = _assert_problem(_raw(APIClient(), "post", "/api/v1/auth/register/", body), 400)
    assert "64 levels" in problem["detail"]


def test_nesting_up_to_the_limit_is_parsed(settings):
    assert settings.JSON_MAX_DEPTH == 64
    inner = "[" * 63 + "]" * 63  # 64 levels with the object around it
    body = f'{{"email": "a@example.com", "password": "x", "first_name": {inner}}}'.encode()
    problem = _assert_problem(_raw(APIClient(), "post", "/api/v1/auth/register/", body), 400)
    assert "first_name" in problem["errors"]  # parsed; refused by the serializer, not by the parser


def test_the_depth_limit_is_a_setting(settings):
    settings.JSON_MAX_DEPTH = 3
    body = b'{"email": {"a": {"b": {"c": 1}}}}'
    assert (
        "3 levels"
        in _assert_problem(_raw(APIClient(), "post", "/api/v1/auth/register/", body), 400)["detail"]
    )


def test_every_operation_with_a_body_refuses_deep_nesting(staff):
    make_product("HOSTILE-1")
    body = b"[" * 942 + b"]" * 942
    swept = 0
    for method, path, operation in _operations("post", "put", "patch"):
        if "requestBody" not in operation:
            continue
        _assert_problem(_raw(staff, method, path, body, operation), 400)
        swept += 1
    assert swept >= 6


def _api_views():
    """Every DRF view class the URL configuration routes to."""

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                view = getattr(entry.callback, "cls", None)
                if isinstance(view, type) and issubclass(view, APIView):
                    yield entry.pattern, view

    return list(walk(get_resolver().url_patterns))


def test_every_api_view_parses_with_the_edge_parser():
    # The body checks of this file live in one parser; a view that brought its own would bypass them.
    views = _api_views()
    assert len(views) >= 10
    for pattern, view in views:
        for parser in view.parser_classes:
            assert issubclass(parser, JSONParser), f"{pattern} ({view.__name__}) parses with {parser}"


# --- giant integers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["page", "page_size"])
def test_a_4301_digit_page_number_is_a_400_on_the_product_list(name):
    problem = _assert_problem(APIClient().get("/api/v1/products/", {name: GIANT}), 400, "validation-error")
    assert name in problem["errors"]


@pytest.mark.parametrize(
    "value",
    [GIANT, "-" + GIANT, "1" + "0" * 30, "1e999999", "0" * 5000 + "1", "²", "٣", "1_000", " 1"],
    ids=[
        "4301-digits",
        "minus-4301-digits",
        "1e30",
        "1e999999",
        "5000-zeros",
        "superscript",
        "arabic",
        "_",
        "space",
    ],
)
def test_every_query_parameter_of_every_list_is_a_400_or_an_empty_page(staff, value):
    make_product("HOSTILE-1")
    swept = 0
    for _method, path, operation in _operations("get"):
        names = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"}
        for name in names:
            response = staff.get(path, {name: value})
            swept += 1
            assert response.status_code in (200, 400), (path, name, response.status_code)
            if response.status_code == 400:
                _assert_problem(response, 400)
            elif name in ("page", "page_size"):
                assert response.json()["results"] == [], (path, name)
    assert swept >= 8


def test_every_integer_a_client_sends_is_bounded_in_the_schema():
    # An unbounded integer field passes validation and overflows its column (a 500): every integer
    # in a request body or query string must declare both bounds.
    schema = _schema()
    components = schema["components"]["schemas"]
    unbounded = []

    def check(where: str, prop: dict) -> None:
        if prop.get("readOnly"):
            return
        if prop.get("type") == "integer" and ("minimum" not in prop or "maximum" not in prop):
            unbounded.append(where)
        for key, child in prop.get("properties", {}).items():
            check(f"{where}.{key}", child)
        if isinstance(prop.get("items"), dict):
            check(f"{where}[]", prop["items"])
        if "$ref" in prop:
            name = prop["$ref"].rsplit("/", 1)[1]
            check(f"{where}<{name}>", components[name])

    for template, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", ()):
                if parameter["name"] in ("page", "page_size"):
                    continue  # bounded by the paginator itself (tested above)
                check(f"{method} {template} ?{parameter['name']}", parameter.get("schema", {}))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                check(f"{method} {template} body", media.get("schema", {}))
    assert unbounded == []


@pytest.mark.parametrize(
    "number",
    [GIANT, "-" + GIANT, str(2**63), str(-(2**63) - 1), "1e400", "-1e400", "9" * 400 + ".5"],
    ids=["4301-digits", "minus-4301-digits", "2**63", "-2**63-1", "1e400", "-1e400", "400-digit-float"],
)
def test_a_number_no_column_can_hold_is_a_400_in_any_body(staff, number):
    make_product("HOSTILE-1")
    body = f'{{"delta": {number}, "reason": "count"}}'.encode()
    _assert_problem(_raw(staff, "post", "/api/v1/inventory/HOSTILE-1/adjustments/", body), 400)


def test_64_bit_integers_still_parse(staff):
    make_product("HOSTILE-1")
    body = f'{{"delta": {2**63 - 1}, "reason": "count"}}'.encode()
    problem = _assert_problem(_raw(staff, "post", "/api/v1/inventory/HOSTILE-1/adjustments/", body), 400)
    assert "delta" in problem["errors"]  # parsed; the serializer's own bound refused it


@pytest.mark.parametrize("declared", [GIANT, "0" * 5000 + "2", "²"], ids=["4301-digits", "zeros", "²"])
def test_a_content_length_no_int_can_hold_is_a_4xx_problem(declared):
    response = APIClient().generic(
        "POST", "/api/v1/auth/register/", b"{}", content_type="application/json", CONTENT_LENGTH=declared
    )
    assert 400 <= response.status_code < 500
    _assert_problem(response, response.status_code)


# --- text that cannot be stored: lone surrogates and NUL -------------------------------------------


def _escaped(payload) -> bytes:
    # ensure_ascii writes a lone surrogate as the JSON escape \ud800, as a hostile client would.
    return json.dumps(payload, ensure_ascii=True).encode()


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"colour": "red\ud800"}, "attributes.colour"),
        ({"colour": "red\udfff"}, "attributes.colour"),
        ({"sizes": [{"eu": ["42", "43\udc00"]}]}, "attributes.sizes[0].eu[1]"),
        ({"col\ud800our": "red"}, "attributes.col\ufffdour"),
        ({"colour": "red\x00"}, "attributes.colour"),
        ({"col\x00our": "red"}, "attributes.col\ufffdour"),
    ],
)
def test_a_product_patch_with_unstorable_text_is_a_400_and_nothing_is_stored(staff, attributes, field):
    make_product("HOSTILE-1", attributes={"colour": "blue"})
    response = _raw(staff, "patch", "/api/v1/products/HOSTILE-1/", _escaped({"attributes": attributes}))
    problem = _assert_problem(response, 400, "validation-error")
    assert list(problem["errors"]) == [field]
    assert Product.objects.get(sku="HOSTILE-1").attributes == {"colour": "blue"}
    public = APIClient().get("/api/v1/products/HOSTILE-1/")
    assert public.status_code == 200 and public.json()["attributes"] == {"colour": "blue"}


def test_a_lone_surrogate_is_refused_in_every_body_of_every_operation(staff):
    make_product("HOSTILE-1")
    swept = 0
    for method, path, operation in _operations("post", "put", "patch"):
        if "requestBody" not in operation:
            continue
        problem = _assert_problem(_raw(staff, method, path, _escaped({"x\ud800": "\ud800"}), operation), 400)
        assert problem["errors"] == {"x\ufffd": ["A key contains U+D800.", "Text must not contain U+D800."]}
        swept += 1
    assert swept >= 6


# --- a member named twice ------------------------------------------------------------------------------


def test_a_member_named_twice_is_refused_in_every_body_of_every_operation(staff):
    # Which of the two a parser keeps is not defined (RFC 8259 section 4): a body read two ways is none.
    make_product("HOSTILE-1")
    swept = 0
    for method, path, operation in _operations("post", "put", "patch"):
        if "requestBody" not in operation:
            continue
        body = b'{"a": {"b": 1, "c": [{"email": "x", "email": "y"}]}}'
        problem = _assert_problem(_raw(staff, method, path, body, operation), 400, "bad-request")
        assert "the name 'email' appears twice in one object" in problem["detail"]
        swept += 1
    assert swept >= 6


def test_a_name_echoed_in_the_refusal_is_shown_safely():
    body = b'{"x\\ud800": 1, "x\\ud800": 2}'
    problem = _assert_problem(_raw(APIClient(), "post", "/api/v1/auth/register/", body), 400)
    assert "the name 'x\ufffd' appears twice" in problem["detail"]


def test_the_same_name_in_two_objects_is_ordinary_json():
    body = b'{"a": {"x": 1}, "b": [{"x": 2}, {"x": 3}]}'
    assert JSONParser().parse(io.BytesIO(body)) == {"a": {"x": 1}, "b": [{"x": 2}, {"x": 3}]}


def test_a_properly_paired_surrogate_escape_is_ordinary_text():
    body = (
        b'{"email": "emoji@example.com", "password": "'
        + PASSWORD.encode()
        + b'", "first_name": "\\ud83d\\ude00"}'
    )
    response = _raw(APIClient(), "post", "/api/v1/auth/register/", body)
    assert response.status_code == 201, response.content
    assert response.json()["first_name"] == "\U0001f600"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("search=%00", "search"),
        ("category=a%00b", "category"),
        ("%00=1", "\ufffd"),
        ("x=1&search=ok%00", "search"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/products/", "/api/v1/users/"])
def test_nul_in_a_query_string_is_a_400_naming_the_parameter(staff, path, query, name):
    problem = _assert_problem(staff.get(f"{path}?{query}"), 400, "validation-error")
    assert problem["errors"] == {name: ["Text must not contain U+0000."]}


@pytest.mark.parametrize("path", ["/api/v1/products/%00/", "/api/v1/inventory/A%00B/", "/api/v1/%00"])
def test_nul_in_a_path_is_a_400_problem(staff, path):
    problem = _assert_problem(staff.get(path), 400, "bad-request")
    assert "U+0000" in problem["detail"]


def test_an_undecodable_surrogate_in_a_query_string_is_replaced_not_stored(staff):
    # Django decodes query strings as UTF-8 with replacement: a CESU-8 surrogate becomes U+FFFD.
    make_product("HOSTILE-1")
    response = staff.get("/api/v1/products/?search=%ED%A0%80")
    assert response.status_code == 200 and response.json()["results"] == []


def test_nul_in_a_header_is_a_400_problem(staff):
    response = staff.get("/api/v1/products/", HTTP_IF_NONE_MATCH='"a\x00"')
    assert "If-None-Match" in _assert_problem(response, 400)["detail"]


def test_nul_in_the_admin_search_is_a_400_not_a_500(client):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    response = client.get("/admin/users/user/?q=%00")
    assert response.status_code == 400
    assert client.get("/admin/users/user/?q=ada").status_code == 200


@pytest.mark.parametrize(
    "typed",
    ['{"full_name": "Ada\\ud800"}', '{"x\\udfff": 1}', '{"full_name": "Ada\\u0000"}', "[" * 100 + "]" * 100],
    ids=["surrogate", "surrogate-key", "nul", "too-deep"],
)
def test_an_admin_json_field_refuses_unstorable_text_as_invalid_json(client, typed):
    # The form used to re-render the parsed text with its lone surrogate: a UnicodeEncodeError, 500.
    from contexts.users.models import User

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    victim = UserFactory()
    form = {
        "email": victim.email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "",
        "locale": "en",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "shipping_address": typed,
    }
    response = client.post(f"/admin/users/user/{victim.pk}/change/", form)
    assert response.status_code == 200  # the form again, with its error
    assert "shipping_address" in response.context["adminform"].form.errors
    assert User.objects.get(pk=victim.pk).shipping_address is None


# --- unsafe methods without the trailing slash --------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug_either_way(request, settings):
    # With DEBUG, Django's APPEND_SLASH raised a RuntimeError for POST (a 500); without, it sent a 301.
    settings.DEBUG = request.param
    return request.param


def test_a_post_without_the_trailing_slash_is_served(debug_either_way):
    user = UserFactory()
    tokens = login(APIClient(), user.email)
    response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_no_unsafe_method_is_ever_redirected_on_any_api_route(staff, debug_either_way, method):
    make_product("HOSTILE-1")
    swept = 0
    for template, item in _schema()["paths"].items():
        path = _concrete(template, item).rstrip("/")
        response = _raw(staff, method, path, b"{}")
        # Served under the slashed route: whatever that route answers, never a redirect, never the 404
        # of a path no route serves (a route may answer its own not-found for an id it does not know).
        assert not 300 <= response.status_code < 400, (method, path, response.status_code)
        assert response.status_code != 500, (method, path, response.content[:300])
        assert response.status_code != 404 or not response.json()["type"].endswith("/not-found"), (
            method,
            path,
            response.content[:300],
        )
        swept += 1
    assert swept >= 8


def test_a_patch_without_the_trailing_slash_is_applied():
    user = UserFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(APIClient(), user.email)['access']}")
    response = client.patch("/api/v1/users/me", {"first_name": "Grace"}, format="json")
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.first_name == "Grace"


def test_an_api_get_without_the_slash_is_served_too():
    response = APIClient().get("/api/v1/products")
    assert response.status_code == 200 and "results" in response.json()


def test_an_unknown_path_without_a_slash_stays_a_404_problem():
    _assert_problem(APIClient().post("/api/v1/no-such-thing", {}, format="json"), 404, "not-found")


def test_the_admin_login_form_posted_without_the_slash_is_served(client, debug_either_way):
    response = client.post("/admin/login", {"username": "nobody@example.com", "password": "x"})
    assert response.status_code == 200  # the form again, with its error: not a 301 and not a 500
    assert b"Please enter the correct" in response.content


def test_an_admin_form_posted_without_the_slash_is_served_not_redirected(client, debug_either_way):
    # The admin's catch-all would have answered a 301 to the slashed path, losing the form.
    from contexts.users.models import User

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {"email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post("/admin/users/user/add", form)
    assert response.status_code == 302 and "/add" not in response["Location"]
    assert User.objects.filter(email="grace@example.com").exists()


def test_a_browser_get_outside_the_api_still_redirects_to_the_slash(client):
    response = client.get("/admin")
    assert response.status_code == 301 and response["Location"] == "/admin/"


# --- health checks as load balancers send them -------------------------------------------------------

PROBES = ["/health", "/ready", "/api/health", "/api/ready"]


@pytest.mark.parametrize("path", PROBES)
def test_head_answers_like_get_without_a_body(client, settings, path):
    settings.READY_CACHE_SECONDS = 0
    got = client.get(path)
    head = client.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == got["Content-Type"] == "application/json"
    assert "no-cache" in head["Cache-Control"]


@pytest.mark.parametrize("path", PROBES)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_other_methods_on_a_probe_are_a_405_problem_with_allow(path, method):
    # A real client, with CSRF checks on: a POST used to be a 403 from the CSRF middleware.
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    _assert_problem(response, 405, "method-not-allowed")
    assert response["Allow"] == "GET, HEAD"
