"""Limits and revocations hold across server processes: two gunicorns sharing the database and Redis."""

import http.client
import json
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django_ratelimit.core import _get_window

from tests.processes import Gunicorn
from tests.users.conftest import PASSWORD, UserFactory
from tests.worker import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, dict(response.getheaders()), (json.loads(raw) if raw else None)
    finally:
        conn.close()


@pytest.fixture
def two_servers(transactional_db):
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs a shared cache (CACHE_URL=redis://...)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "LOG_LEVEL": "WARNING",
    }
    servers = [Gunicorn(env), Gunicorn(env)]
    try:
        for server in servers:
            server.wait_ready()
        yield [s.port for s in servers]
    finally:
        for server in servers:
            server.stop()


def _wait_for_a_fresh_window(values: list[str], period: int = 60, needed: float = 20.0) -> None:
    """django-ratelimit counts in fixed windows: start where none of ours can reset mid-test."""
    left = min(_get_window(v, period) for v in values) - time.time()
    if left < needed:
        time.sleep(left + 0.5)


def test_login_limit_and_revocation_hold_across_two_processes(two_servers):
    a, b = two_servers
    user = UserFactory()
    _wait_for_a_fresh_window(["127.0.0.1", user.email])
    credentials = {"email": user.email, "password": PASSWORD}

    status, _, tokens = _call(a, "POST", "/api/v1/auth/token/", credentials)
    assert status == 200
    # A token logged out through one process is rejected by the other at once.
    assert _call(b, "GET", "/api/v1/users/me/", token=tokens["access"])[0] == 200
    out = _call(b, "POST", "/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, token=tokens["access"])
    assert out[0] == 204
    status, headers, body = _call(a, "GET", "/api/v1/users/me/", token=tokens["access"])
    assert (status, headers["Content-Type"], body["type"].rsplit("/", 1)[1]) == (
        401,
        "application/problem+json",
        "token-revoked",
    )

    # Logins 2..5 alternate between the processes; the 6th is refused whichever one it reaches.
    for port in (b, a, b, a):
        assert _call(port, "POST", "/api/v1/auth/token/", credentials)[0] == 200
    status, headers, body = _call(b, "POST", "/api/v1/auth/token/", credentials)
    assert status == 429
    assert headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert _call(a, "POST", "/api/v1/auth/token/", credentials)[0] == 429
