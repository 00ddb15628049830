"""One password-guessing budget per account, whichever door checks the password.

The doors: the API's token endpoint, the admin's login form, the API's password change and the
admin's password change (both check the current password). The budget is LOGIN_PER_EMAIL (5 a
minute), keyed by the address in its normal form, so a lookalike spelling is the same account.
"""

import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from contexts.users.tokens import token_pair_issue
from tests.users.conftest import PASSWORD, UserFactory, assert_problem, bearer_client

pytestmark = pytest.mark.django_db


def fullwidth(text: str) -> str:
    """The fullwidth lookalike of ASCII text (U+FF01..U+FF5E): "example" -> its fullwidth letters."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


TOKEN = "/api/v1/auth/token/"
PASSWORD_CHANGE = "/api/v1/users/me/password/"
ADMIN_LOGIN = reverse("admin:login")
ADMIN_PASSWORD_CHANGE = reverse("admin:password_change")
NEW_PASSWORD = "another-Battery-staple-7"


@pytest.fixture(autouse=True)
def _frozen_clock():
    # django-ratelimit counts in fixed windows: a window ending mid-test would reset the counters.
    with time_machine.travel(time.time(), tick=False):
        yield


def _ip(n: int) -> dict:
    # A fresh client address per attempt, so only the per-account bucket can refuse.
    return {"REMOTE_ADDR": f"192.0.2.{n}"}


def _api_login(email: str, password: str, n: int):
    return APIClient().post(TOKEN, {"email": email, "password": password}, format="json", **_ip(n))


def _admin_login(email: str, password: str, n: int):
    return Client().post(ADMIN_LOGIN, {"username": email, "password": password}, **_ip(n))


def _change(client, current: str, n: int):
    body = {"current_password": current, "new_password": NEW_PASSWORD}
    return client.post(PASSWORD_CHANGE, body, format="json", **_ip(n))


def _assert_limited(response) -> None:
    assert_problem(response, 429, "rate-limited")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_sixth_current_password_guess_in_a_minute_is_429():
    user = UserFactory()
    client = bearer_client(token_pair_issue(user).access)
    for n in range(5):
        assert_problem(_change(client, f"guess-{n}", n), 400, "validation-error")
    _assert_limited(_change(client, "guess-5", 5))
    # Refused before the password is checked: even the right one does not get through now.
    _assert_limited(_change(client, PASSWORD, 6))
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_guess_budget_is_per_account_not_per_caller():
    alice, bob = UserFactory(), UserFactory()
    alice_client = bearer_client(token_pair_issue(alice).access)
    for n in range(5):
        _change(alice_client, f"guess-{n}", n)
    _assert_limited(_change(alice_client, "guess", 9))
    response = _change(bearer_client(token_pair_issue(bob).access), PASSWORD, 9)
    assert response.status_code == 200, response.content


def test_five_api_logins_then_the_admin_form_share_one_budget():
    user = UserFactory(is_staff=True)
    for n in range(5):
        assert _api_login(user.email, f"guess-{n}", n).status_code == 401
    refused = _admin_login(user.email, PASSWORD, 5)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60


def test_five_admin_form_logins_then_the_api_share_one_budget():
    user = UserFactory(is_staff=True)
    for n in range(5):
        assert _admin_login(user.email, f"guess-{n}", n).status_code == 200  # the form again
    _assert_limited(_api_login(user.email, PASSWORD, 5))


def test_a_lookalike_spelling_spends_the_same_budget():
    user = UserFactory(email="quinn@example.com")
    spellings = [
        "QUINN@example.com",
        "quinn@" + fullwidth("example") + ".com",
        fullwidth("quinn@") + "example.com",
        " quinn@EXAMPLE.COM",
    ]
    for n, spelling in enumerate(spellings):
        assert _api_login(spelling, f"guess-{n}", n).status_code == 401
    assert _admin_login("Quinn@" + fullwidth("E") + "xample.com", "guess", 4).status_code == 200
    _assert_limited(_api_login(user.email, PASSWORD, 5))


def test_logins_and_the_password_change_door_share_one_budget():
    user = UserFactory()
    client = bearer_client(token_pair_issue(user).access)
    for n in range(3):
        assert _api_login(user.email, f"guess-{n}", n).status_code == 401
    for n in range(3, 5):
        assert_problem(_change(client, f"guess-{n}", n), 400)
    _assert_limited(_change(client, "guess-5", 5))
    _assert_limited(_api_login(user.email, PASSWORD, 6))


def test_the_admin_password_change_form_spends_the_account_budget_too():
    operator = UserFactory(is_staff=True)
    client = Client()
    client.force_login(operator)
    form = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for n in range(5):
        assert client.post(ADMIN_PASSWORD_CHANGE, form, **_ip(n)).status_code == 200  # form with error
    refused = client.post(ADMIN_PASSWORD_CHANGE, {**form, "old_password": PASSWORD}, **_ip(5))
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)
    _assert_limited(_api_login(operator.email, PASSWORD, 6))


def test_a_correct_change_within_the_budget_still_works():
    user = UserFactory()
    client = bearer_client(token_pair_issue(user).access)
    assert_problem(_change(client, "wrong", 1), 400)
    response = _change(client, PASSWORD, 2)
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
