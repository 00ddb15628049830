"""The revocation store: durable valid-after behind the cache, one lookup on the hot path, fail closed."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from contexts.users import services
from contexts.users.models import User
from contexts.users.tokens import token_pair_issue
from integration import tokens as auth
from tests.users.conftest import assert_problem, bearer_client

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"


def _queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(ME).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_a_revocation_survives_losing_the_cache(user):
    old = token_pair_issue(user)
    services.user_tokens_revoke_all(user_id=user.id)
    new = token_pair_issue(user)
    cache.clear()  # a Redis restart or an eviction
    assert_problem(bearer_client(old.access).get(ME), 401, "token-revoked")
    assert bearer_client(new.access).get(ME).status_code == 200


def test_the_hot_path_reads_the_user_table_only_for_the_view(user):
    client = bearer_client(token_pair_issue(user).access)
    cache.clear()
    first = _queries(client)  # a miss: the valid-after copy is refilled once
    assert len(first) == 2 and all("users_user" in q for q in first)
    assert len(_queries(client)) == 1  # the view's own query; authentication needs none


def test_a_stale_refill_cannot_overwrite_a_revocation(user):
    # The refill writes with add(): a revocation written after the refill's read wins.
    token = token_pair_issue(user)
    services.user_tokens_revoke_all(user_id=user.id)
    auth._load_valid_after(str(user.id))  # as if it had read the database before the revocation
    assert_problem(bearer_client(token.access).get(ME), 401, "token-revoked")


def test_a_deleted_user_has_no_valid_token(user):
    token = token_pair_issue(user)
    User.objects.filter(id=user.id).delete()
    cache.clear()
    assert_problem(bearer_client(token.access).get(ME), 401, "token-revoked")


def test_without_a_valid_after_source_requests_are_refused_not_let_through(user, monkeypatch):
    token = token_pair_issue(user)
    monkeypatch.setattr(auth, "_valid_after_source", None)
    cache.clear()
    assert_problem(bearer_client(token.access).get(ME), 503)


def test_an_unreachable_cache_refuses_with_503(user, settings):
    token = token_pair_issue(user)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    assert_problem(bearer_client(token.access).get(ME), 503)
    assert_problem(APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": "x"}), 503)


def test_a_denied_jti_expires_with_its_token(user):
    token = token_pair_issue(user)
    client = bearer_client(token.access)
    claims = client.get(ME).wsgi_request.auth
    auth.token_deny(jti=claims["jti"], expires_at=claims["exp"])
    key = cache.make_key(f"auth:deny:{claims['jti']}")
    ttl = cache._cache.get_client(key).ttl(key)
    assert 0 < ttl <= 302
    assert_problem(client.get(ME), 401, "token-revoked")
