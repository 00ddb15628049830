"""Every forged, stale or misused token is a 401 problem+json, never a 200 and never a 500."""

import base64
import json
import time

import jwt
import pytest
from django.conf import settings

from contexts.users.tokens import token_pair_issue
from tests.users.conftest import PASSWORD, UserFactory, assert_problem, bearer_client, login

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"
KEY = settings.SIMPLE_JWT["SIGNING_KEY"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user) -> dict:
    return jwt.decode(token_pair_issue(user).access, KEY, algorithms=["HS256"])


def _rejected(token: str, slug: str = "token-not-valid") -> dict:
    response = bearer_client(token).get(ME)
    body = assert_problem(response, 401, slug)
    assert response["WWW-Authenticate"].startswith("Bearer")
    return body


def test_a_valid_token_is_accepted(user):
    assert bearer_client(token_pair_issue(user).access).get(ME).status_code == 200


def test_alg_none_is_rejected(user):
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user))}."
    _rejected(unsigned)


def test_a_token_signed_with_another_key_is_rejected(user):
    _rejected(jwt.encode(_claims(user), "not-the-signing-key-" + "x" * 32, algorithm="HS256"))


@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_another_algorithm_with_the_right_key_is_rejected(user):
    # The algorithm is pinned: even a correctly keyed HS512 token is refused.
    _rejected(jwt.encode(_claims(user), KEY, algorithm="HS512"))


def test_a_tampered_payload_is_rejected(user):
    header, _payload, signature = token_pair_issue(user).access.split(".")
    claims = _claims(user)
    claims["roles"] = ["customer", "staff"]
    _rejected(f"{header}.{_b64(claims)}.{signature}")


def test_a_token_expired_one_second_ago_is_rejected(user):
    claims = _claims(user)
    claims["exp"] = int(time.time()) - 1
    _rejected(jwt.encode(claims, KEY, algorithm="HS256"), slug="token-expired")


def test_a_refresh_token_is_not_an_access_token(user):
    _rejected(token_pair_issue(user).refresh)


def test_a_token_without_the_required_claims_is_rejected(user):
    claims = _claims(user)
    del claims["user_id"]
    _rejected(jwt.encode(claims, KEY, algorithm="HS256"))


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer \u00e9t\u00e9"])
def test_a_malformed_authorization_header_is_rejected(user, api_client, header):
    response = api_client.get(ME, HTTP_AUTHORIZATION=header)
    assert_problem(response, 401)


def test_no_token_on_a_protected_endpoint_is_401(api_client):
    assert_problem(api_client.get(ME), 401, "not-authenticated")


def test_a_blacklisted_refresh_token_is_rejected(user, api_client):
    pair = login(api_client, user.email)
    rotated = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert rotated.status_code == 200
    reused = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert_problem(reused, 401, "token-revoked")


def test_an_access_token_as_a_refresh_token_is_rejected(user, api_client):
    pair = login(api_client, user.email)
    response = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["access"]}, format="json")
    assert_problem(response, 401, "token-not-valid")


def test_an_access_token_from_before_a_password_change_is_rejected(user, api_client):
    old = login(api_client, user.email)
    client = bearer_client(old["access"])
    changed = client.post(
        "/api/v1/users/me/password/",
        {"current_password": PASSWORD, "new_password": "another-Secret-42"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    _rejected(old["access"], slug="token-revoked")
    refused = api_client.post("/api/v1/auth/token/refresh/", {"refresh": old["refresh"]}, format="json")
    assert_problem(refused, 401, "token-revoked")
    # The pair the change answered with is issued after the revocation, and works.
    assert bearer_client(changed.json()["access"]).get(ME).status_code == 200


def test_tokens_of_a_deactivated_user_are_rejected(api_client):
    from contexts.users import services

    user = UserFactory()
    pair = login(api_client, user.email)
    services.user_deactivate(user_id=user.id)
    _rejected(pair["access"], slug="token-revoked")
    assert_problem(
        api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"), 401
    )
    response = api_client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert_problem(response, 401, "invalid-credentials")


def test_wrong_credentials_are_401_problem(user, api_client):
    response = api_client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": "nope"}, format="json"
    )
    assert_problem(response, 401, "invalid-credentials")
    unknown = api_client.post(
        "/api/v1/auth/token/", {"email": "nobody@example.com", "password": PASSWORD}, format="json"
    )
    assert_problem(unknown, 401, "invalid-credentials")


def test_a_stale_token_does_not_block_the_public_endpoints(user, api_client):
    # Login, register and refresh read no Authorization header: an expired token must not stop a login.
    response = api_client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD},
        format="json",
        HTTP_AUTHORIZATION="Bearer expired.or.garbage",
    )
    assert response.status_code == 200
