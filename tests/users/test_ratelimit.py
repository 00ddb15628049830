"""Rate limits: login and registration buckets, the general API limits, client IPs behind proxies."""

import time

import pytest
import time_machine
from django_ratelimit.core import _get_window
from rest_framework.test import APIClient

from tests.users.conftest import PASSWORD, UserFactory, assert_problem, bearer_client

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _frozen_clock():
    # django-ratelimit counts in fixed windows: a window ending mid-test would reset the counters.
    with time_machine.travel(time.time(), tick=False):
        yield


def _login(client, email, password=PASSWORD, **extra):
    return client.post(TOKEN, {"email": email, "password": password}, format="json", **extra)


def _assert_limited(response, *, retry_after: int | None = None) -> None:
    assert_problem(response, 429, "rate-limited")
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= 3600
    if retry_after is not None:
        # The caller read the clock just before the request: a second may tick in between.
        assert retry_after - 1 <= seconds <= retry_after, (seconds, retry_after)


def test_the_sixth_login_in_a_minute_is_429_with_retry_after():
    user = UserFactory()
    client = APIClient()
    # The limits count in fixed one-minute windows: start well inside one, so all six fall in it.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    for _ in range(5):
        assert _login(client, user.email).status_code == 200
    now = int(time.time())
    # Retry-After is when the later of the two refusing windows (IP and email) resets.
    expected = max(_get_window("127.0.0.1", 60), _get_window(user.email, 60)) - now
    _assert_limited(_login(client, user.email), retry_after=max(1, expected))


def test_failed_attempts_count_too():
    user = UserFactory()
    client = APIClient()
    for _ in range(5):
        assert _login(client, user.email, "wrong-password").status_code == 401
    _assert_limited(_login(client, user.email))


def test_rotating_x_forwarded_for_does_not_escape_the_limit():
    client = APIClient()
    for i in range(5):
        # A different email each time, so only the IP bucket can refuse.
        response = _login(client, f"guess{i}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        assert response.status_code == 401
    _assert_limited(_login(client, "guess9@example.com", HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_the_email_bucket_holds_across_client_ips():
    user = UserFactory()
    client = APIClient()
    for i in range(5):
        assert _login(client, user.email, "wrong", REMOTE_ADDR=f"192.0.2.{i}").status_code == 401
    _assert_limited(_login(client, user.email.upper(), REMOTE_ADDR="192.0.2.200"))


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_bucket(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = APIClient()
    for i in range(5):
        # The client prepends garbage to X-Forwarded-For; the proxy appends the address it saw.
        response = _login(
            client,
            f"guess{i}@example.com",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7",
        )
        assert response.status_code == 401
    limited = _login(
        client, "guess9@example.com", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7"
    )
    _assert_limited(limited)
    # Another client behind the same proxy has its own bucket.
    other = _login(client, "guess9@example.com", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 401


def test_an_untrusted_peer_cannot_pick_its_bucket_with_x_forwarded_for(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = APIClient()
    for i in range(5):
        response = _login(
            client, f"guess{i}@example.com", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"
        )
        assert response.status_code == 401
    _assert_limited(_login(client, "guess9@example.com", REMOTE_ADDR="192.0.2.50"))


def test_registration_is_limited_to_ten_an_hour_per_ip():
    client = APIClient()
    for i in range(10):
        body = {"email": f"new{i}@example.com", "password": PASSWORD}
        assert client.post("/api/v1/auth/register/", body, format="json").status_code == 201
    response = client.post(
        "/api/v1/auth/register/", {"email": "new10@example.com", "password": PASSWORD}, format="json"
    )
    _assert_limited(response, retry_after=max(1, _get_window("127.0.0.1", 3600) - int(time.time())))


def test_the_general_limit_is_per_user(settings):
    from contexts.users.tokens import token_pair_issue

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "API_USER": "3/m"}
    alice, bob = UserFactory(), UserFactory()
    alice_client = bearer_client(token_pair_issue(alice).access)
    for _ in range(3):
        assert alice_client.get("/api/v1/users/me/").status_code == 200
    _assert_limited(alice_client.get("/api/v1/users/me/"))
    # Same IP, another user: a separate bucket.
    assert bearer_client(token_pair_issue(bob).access).get("/api/v1/users/me/").status_code == 200


def test_the_general_limit_is_per_ip_for_anonymous_callers(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "API_ANON": "3/m"}
    client = APIClient()
    for _ in range(3):
        response = client.post("/api/v1/auth/token/refresh/", {"refresh": "x"}, format="json")
        assert response.status_code == 401
    _assert_limited(client.post("/api/v1/auth/token/refresh/", {"refresh": "x"}, format="json"))
    other_ip = client.post(
        "/api/v1/auth/token/refresh/", {"refresh": "x"}, format="json", REMOTE_ADDR="192.0.2.9"
    )
    assert other_ip.status_code == 401
