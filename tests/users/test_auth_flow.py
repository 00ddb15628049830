"""The whole life of a session: register, login, profile, refresh, logout, logout everywhere."""

import pytest
from rest_framework.test import APIClient

from integration.bus.models import OutboxMessage
from tests.users.conftest import PASSWORD, assert_problem, bearer_client, login

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"


def test_register_login_me_refresh_logout_logout_all():
    anon = APIClient()
    registered = anon.post(
        "/api/v1/auth/register/",
        {"email": "Grace@Example.com", "password": PASSWORD, "first_name": "Grace", "last_name": "Hopper"},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    body = registered.json()
    assert body["email"] == "grace@example.com"
    assert body["roles"] == ["customer"]
    assert "password" not in body
    assert OutboxMessage.objects.filter(type="users.UserRegistered.v1").count() == 1

    first = login(anon, "grace@example.com")
    me = bearer_client(first["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]

    # Refresh rotates: a new pair, and the old refresh token is used up.
    refreshed = anon.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert refreshed.status_code == 200, refreshed.content
    second = refreshed.json()
    assert second["refresh"] != first["refresh"]
    replay = anon.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert_problem(replay, 401, "token-revoked")

    # Logout: this access token stops working at once (it has minutes left), and so does the refresh.
    client = bearer_client(second["access"])
    assert client.get(ME).status_code == 200
    out = client.post("/api/v1/auth/logout/", {"refresh": second["refresh"]}, format="json")
    assert out.status_code == 204, out.content
    assert_problem(client.get(ME), 401, "token-revoked")
    again = anon.post("/api/v1/auth/token/refresh/", {"refresh": second["refresh"]}, format="json")
    assert_problem(again, 401, "token-revoked")

    # Logout everywhere: every token issued before it is rejected, access and refresh alike.
    sessions = [login(anon, "grace@example.com") for _ in range(2)]
    for session in sessions:
        assert bearer_client(session["access"]).get(ME).status_code == 200
    assert bearer_client(sessions[0]["access"]).post("/api/v1/auth/logout-all/").status_code == 204
    for session in sessions:
        assert_problem(bearer_client(session["access"]).get(ME), 401, "token-revoked")
        refused = anon.post("/api/v1/auth/token/refresh/", {"refresh": session["refresh"]}, format="json")
        assert_problem(refused, 401, "token-revoked")

    # A login after it works, even within the same second.
    fresh = login(anon, "grace@example.com")
    assert bearer_client(fresh["access"]).get(ME).status_code == 200
