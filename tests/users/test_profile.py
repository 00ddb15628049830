"""Registration and the profile: validation, the one address shape, events, and no mass assignment."""

import pytest
from rest_framework.test import APIClient

from contexts.users.models import User
from integration.bus.models import OutboxMessage
from tests.users.conftest import PASSWORD, UserFactory, assert_problem, bearer_client, login

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"
ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "gb",
}


def _register(client, **fields):
    body = {"email": "new@example.com", "password": PASSWORD, "first_name": "N", "last_name": "U", **fields}
    return client.post("/api/v1/auth/register/", body, format="json")


def _me(user) -> APIClient:
    return bearer_client(login(APIClient(), user.email)["access"])


def test_register_answers_the_user_without_any_password():
    response = _register(APIClient())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "email", "first_name", "last_name", "phone", "shipping_address", "preferences",
        "email_verified", "roles", "date_joined",
    }  # fmt: skip
    assert body["preferences"] == {"locale": "en", "marketing_opt_in": False}
    user = User.objects.get(email="new@example.com")
    assert user.password.startswith("md5$") or user.password.startswith("pbkdf2")
    assert PASSWORD not in response.content.decode()
    event = OutboxMessage.objects.get(type="users.UserRegistered.v1")
    assert event.payload == {
        "user_id": str(user.id), "email": "new@example.com", "locale": "en", "marketing_opt_in": False,
    }  # fmt: skip
    assert "password" not in str(event.payload)


def test_a_duplicate_email_is_400_whatever_its_case():
    client = APIClient()
    assert _register(client).status_code == 201
    body = assert_problem(_register(client, email="NEW@Example.COM"), 409, "email-taken")
    assert "email" in body["errors"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short", "12345678901", "password123", "new@example.com"])
def test_passwords_go_through_djangos_validators(password):
    body = assert_problem(_register(APIClient(), password=password), 400, "validation-error")
    assert "password" in body["errors"]
    assert not User.objects.exists()


def test_mass_assignment_on_register_changes_nothing():
    response = _register(
        APIClient(),
        is_staff=True,
        is_superuser=True,
        id="00000000-0000-4000-8000-000000000000",
        email_verified=True,
        roles=["staff"],
        tokens_valid_after=None,
    )
    assert response.status_code == 201
    user = User.objects.get(email="new@example.com")
    assert (user.is_staff, user.is_superuser, user.email_verified) == (False, False, False)
    assert str(user.id) != "00000000-0000-4000-8000-000000000000"
    assert response.json()["roles"] == ["customer"]


def test_mass_assignment_on_profile_update_changes_nothing(user):
    before = User.objects.values().get(id=user.id)
    response = _me(user).patch(
        ME,
        {
            "is_staff": True,
            "is_superuser": True,
            "id": "00000000-0000-4000-8000-000000000000",
            "email_verified": True,
            "email": "taken-over@example.com",
            "is_active": False,
            "roles": ["staff"],
            "password": "x",
        },
        format="json",
    )
    assert response.status_code == 200
    assert User.objects.values().get(id=user.id) == before
    assert not OutboxMessage.objects.filter(type="users.ProfileUpdated.v1").exists()


def test_profile_update_sets_name_phone_address_and_preferences(user):
    client = _me(user)
    response = client.patch(
        ME,
        {
            "first_name": "Augusta",
            "phone": "+442079460000",
            "shipping_address": ADDRESS,
            "preferences": {"locale": "en-GB", "marketing_opt_in": True},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = client.get(ME).json()
    assert body["first_name"] == "Augusta"
    assert body["last_name"] == "Lovelace"
    assert body["phone"] == "+442079460000"
    assert body["shipping_address"] == {**ADDRESS, "country": "GB", "line2": "", "region": "", "phone": ""}
    assert body["preferences"] == {"locale": "en-GB", "marketing_opt_in": True}
    event = OutboxMessage.objects.get(type="users.ProfileUpdated.v1")
    assert event.payload == {
        "user_id": str(user.id),
        "changed_fields": ["first_name", "locale", "marketing_opt_in", "phone", "shipping_address"],
    }


def test_an_unchanged_value_publishes_no_event(user):
    response = _me(user).patch(ME, {"first_name": user.first_name}, format="json")
    assert response.status_code == 200
    assert not OutboxMessage.objects.filter(type="users.ProfileUpdated.v1").exists()


def test_the_address_is_replaced_whole_and_can_be_removed(user):
    client = _me(user)
    assert client.patch(ME, {"shipping_address": ADDRESS}, format="json").status_code == 200
    # A PATCH does not merge into the address: a partial one is invalid.
    partial = client.patch(ME, {"shipping_address": {"city": "Paris"}}, format="json")
    body = assert_problem(partial, 400, "validation-error")
    assert {"shipping_address.full_name", "shipping_address.line1"} <= set(body["errors"])
    assert client.patch(ME, {"shipping_address": None}, format="json").json()["shipping_address"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "0207 946 0000"}, "phone"),
        ({"phone": "+0123"}, "phone"),
        ({"shipping_address": {**ADDRESS, "country": "XX"}}, "shipping_address.country"),
        ({"shipping_address": {**ADDRESS, "country": "GBR"}}, "shipping_address.country"),
        ({"shipping_address": {**ADDRESS, "phone": "12345"}}, "shipping_address.phone"),
        ({"shipping_address": "12 Main St"}, "shipping_address"),
        ({"preferences": {"locale": "english please"}}, "preferences.locale"),
        ({"preferences": {"marketing_opt_in": "maybe"}}, "preferences.marketing_opt_in"),
        ({"first_name": "x" * 151}, "first_name"),
    ],
)
def test_invalid_profile_input_is_400_with_the_field(user, change, field):
    body = assert_problem(_me(user).patch(ME, change, format="json"), 400, "validation-error")
    assert field in body["errors"], body["errors"]


def test_put_and_delete_on_me_are_not_allowed(user):
    client = _me(user)
    assert_problem(client.put(ME, {}, format="json"), 405)
    assert_problem(client.delete(ME), 405)
    assert User.objects.filter(id=user.id, is_active=True).exists()


def test_password_change_needs_the_current_password_and_a_valid_new_one(user):
    client = _me(user)
    wrong = client.post(
        "/api/v1/users/me/password/",
        {"current_password": "wrong", "new_password": "another-Secret-42"},
        format="json",
    )
    assert "current_password" in assert_problem(wrong, 400, "validation-error")["errors"]
    weak = client.post(
        "/api/v1/users/me/password/", {"current_password": PASSWORD, "new_password": "123"}, format="json"
    )
    assert "new_password" in assert_problem(weak, 400, "validation-error")["errors"]
    assert not OutboxMessage.objects.filter(type="users.PasswordChanged.v1").exists()
    # Neither attempt revoked anything.
    assert client.get(ME).status_code == 200


def test_password_change_publishes_an_event_and_the_new_password_logs_in(user):
    client = _me(user)
    response = client.post(
        "/api/v1/users/me/password/",
        {"current_password": PASSWORD, "new_password": "another-Secret-42"},
        format="json",
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    event = OutboxMessage.objects.get(type="users.PasswordChanged.v1")
    assert event.payload == {"user_id": str(user.id)}
    login(APIClient(), user.email, "another-Secret-42")


def test_logout_refuses_someone_elses_refresh_token(user):
    other = UserFactory()
    mine = login(APIClient(), user.email)
    theirs = login(APIClient(), other.email)
    response = bearer_client(mine["access"]).post(
        "/api/v1/auth/logout/", {"refresh": theirs["refresh"]}, format="json"
    )
    assert "refresh" in assert_problem(response, 400, "validation-error")["errors"]
    # Their session is untouched.
    rotated = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": theirs["refresh"]}, format="json")
    assert rotated.status_code == 200


def test_staff_listing_is_for_staff_only(user, staff_user):
    UserFactory(email="findme@example.com", first_name="Findme")
    assert_problem(_me(user).get("/api/v1/users/"), 403, "permission-denied")
    assert_problem(APIClient().get("/api/v1/users/"), 401)
    listing = _me(staff_user).get("/api/v1/users/", {"search": "findme"})
    assert listing.status_code == 200
    assert [row["email"] for row in listing.json()["results"]] == ["findme@example.com"]
    assert _me(staff_user).get("/api/v1/users/").json()["count"] == 3
