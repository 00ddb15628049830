"""Bad input is a 4xx problem+json, never a 500: malformed or non-UTF-8 JSON, missing fields, huge bodies."""

import pytest
from rest_framework.test import APIClient

from contexts.users.models import User
from contexts.users.tokens import token_pair_issue
from tests.users.conftest import assert_problem, bearer_client

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TEN_MB = 10 * 1024 * 1024


def _raw(client, path, body: bytes, content_type="application/json", method="post"):
    return getattr(client, method)(path, data=body, content_type=content_type)


@pytest.fixture
def me_client(user):
    return bearer_client(token_pair_issue(user).access)


@pytest.mark.parametrize(
    "body",
    [b'{"email": "a@example.com", "password": ', b"{'single': 'quotes'}", b"", b"[1, 2", b'{"a": NaN}'],
)
def test_malformed_json_is_400(body):
    response = _raw(APIClient(), REGISTER, body)
    assert_problem(response, 400)
    assert not User.objects.exists()


def test_a_missing_field_is_400_naming_it():
    body = assert_problem(
        APIClient().post(REGISTER, {"email": "a@example.com"}, format="json"), 400, "validation-error"
    )
    assert body["errors"] == {"password": ["This field is required."]}


def test_a_json_array_instead_of_an_object_is_400():
    assert_problem(_raw(APIClient(), REGISTER, b"[]"), 400, "validation-error")


def test_a_10_mb_body_is_413_problem():
    body = b'{"email": "a@example.com", "password": "' + b"x" * TEN_MB + b'"}'
    response = _raw(APIClient(), REGISTER, body)
    assert_problem(response, 413, "payload-too-large")
    assert not User.objects.exists()


def test_a_10_mb_body_on_an_authenticated_endpoint_is_413(me_client):
    body = b'{"first_name": "' + b"x" * TEN_MB + b'"}'
    assert_problem(_raw(me_client, "/api/v1/users/me/", body, method="patch"), 413, "payload-too-large")


def test_a_body_just_under_the_limit_is_parsed(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = b'{"email": "a@example.com", "pad": "' + b"x" * 1900 + b'"}'
    response = _raw(APIClient(), REGISTER, body)
    assert_problem(response, 400, "validation-error")  # parsed: only the password is missing


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "\xff\xfe@example.com", "password": "x"}',
        '{"email": "a@example.com", "first_name": "J\u00fcrgen"}'.encode("latin-1"),
        b"\x00\x01\x02\x03",
    ],
)
def test_a_non_utf8_body_is_400(body):
    response = _raw(APIClient(), REGISTER, body)
    assert_problem(response, 400)


def test_a_non_utf8_body_on_an_authenticated_endpoint_is_400(me_client):
    assert_problem(_raw(me_client, "/api/v1/users/me/", b'{"first_name": "\xe9"}', method="patch"), 400)


def test_a_form_body_is_415():
    response = _raw(
        APIClient(), REGISTER, b"email=a%40example.com", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)


@pytest.mark.parametrize("value", [123, None, ["a@example.com"], {"x": 1}, True])
def test_wrong_types_are_400(value):
    response = APIClient().post(REGISTER, {"email": value, "password": value}, format="json")
    assert_problem(response, 400, "validation-error")


def test_a_login_with_wrong_types_is_400():
    response = APIClient().post("/api/v1/auth/token/", {"email": ["x"], "password": 5}, format="json")
    assert_problem(response, 400, "validation-error")
