"""The operators' admin (listing, search, roles, deactivation that revokes) and the users api."""

import json
import uuid

import pytest
from django.urls import reverse

from contexts.users import api
from contexts.users.tokens import token_pair_issue
from integration.codec import CodecError
from tests.users.conftest import UserFactory, assert_problem, bearer_client

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"
CHANGELIST = reverse("admin:users_user_changelist")


@pytest.fixture
def operator(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_the_admin_lists_and_searches_users_with_their_roles(operator):
    UserFactory(email="grace@example.com", first_name="Grace")
    UserFactory(email="op@example.com", is_staff=True)
    page = operator.get(CHANGELIST, {"q": "grace"}).content.decode()
    assert "grace@example.com" in page and "op@example.com" not in page
    listing = operator.get(CHANGELIST).content.decode()
    assert "customer, staff" in listing and "customer" in listing


def test_the_deactivate_action_revokes_every_token(operator):
    victim = UserFactory()
    client = bearer_client(token_pair_issue(victim).access)
    assert client.get(ME).status_code == 200
    response = operator.post(CHANGELIST, {"action": "deactivate_users", "_selected_action": [str(victim.id)]})
    assert response.status_code == 302
    victim.refresh_from_db()
    assert not victim.is_active and victim.tokens_valid_after is not None
    assert_problem(client.get(ME), 401, "token-revoked")


def test_unticking_active_in_the_form_revokes_too(operator):
    victim = UserFactory()
    client = bearer_client(token_pair_issue(victim).access)
    change = reverse("admin:users_user_change", args=[victim.id])
    form = {
        "email": victim.email,
        "first_name": victim.first_name,
        "last_name": victim.last_name,
        "phone": "",
        "locale": "en",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        # is_active left out: unticked
    }
    response = operator.post(change, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_problem(client.get(ME), 401, "token-revoked")


def test_api_user_get_and_contact_return_dtos():
    user = UserFactory(phone="+14155550100", shipping_address=None)
    dto = api.user_get(user_id=user.id)
    assert isinstance(dto, api.UserDTO)
    assert (dto.id, dto.email, dto.roles, dto.shipping_address) == (user.id, user.email, ("customer",), None)
    contact = api.user_contact(user_id=user.id)
    assert (contact.email, contact.phone, contact.full_name) == (user.email, "+14155550100", "Ada Lovelace")
    assert api.user_is_active(user_id=user.id) is True
    assert api.user_has_role(user_id=user.id, role="staff") is False


def test_api_raises_user_not_found_for_an_unknown_id():
    with pytest.raises(api.UserNotFound):
        api.user_get(user_id=uuid.uuid4())
    with pytest.raises(api.UserNotFound):
        api.user_contact(user_id=uuid.uuid4())


def test_a_malformed_id_is_refused_at_the_interface_naming_the_argument():
    # What could not cross a wire fails here, as it would over HTTP (SERVICES["CODEC_ROUND_TRIP"]).
    with pytest.raises(CodecError, match=r"users.user_contact\(user_id\)"):
        api.user_contact(user_id="not-a-uuid")


def test_a_password_reset_by_an_operator_revokes_every_token(operator):
    victim = UserFactory()
    client = bearer_client(token_pair_issue(victim).access)
    url = reverse("admin:auth_user_password_change", args=[victim.id])
    response = operator.post(url, {"password1": "reset-Secret-2024", "password2": "reset-Secret-2024"})
    assert response.status_code == 302
    assert_problem(client.get(ME), 401, "token-revoked")


def test_flushing_expired_refresh_tokens_keeps_live_ones():
    import datetime as dt

    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from contexts.users import tasks

    user = UserFactory()
    token_pair_issue(user), token_pair_issue(user)
    OutstandingToken.objects.filter(id=OutstandingToken.objects.first().id).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert tasks.flush_expired_tokens() == 1
    assert OutstandingToken.objects.count() == 1


def test_the_admin_refuses_an_address_of_another_shape(operator):
    user = UserFactory()
    change = reverse("admin:users_user_change", args=[user.id])
    form = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": "",
        "locale": "en",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "shipping_address": '{"street": "somewhere"}',
    }
    response = operator.post(change, form)
    assert response.status_code == 200  # the form again, with the error
    assert "Not a valid address" in response.content.decode()
    user.refresh_from_db()
    assert user.shipping_address is None

    form["shipping_address"] = json.dumps(
        {
            "full_name": "Ada L",
            "line1": "1 Main St",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "de",
        }
    )
    assert operator.post(change, form).status_code == 302
    user.refresh_from_db()
    assert user.shipping_address["country"] == "DE" and user.shipping_address["line2"] == ""


def test_the_admin_login_has_the_same_guessing_limit_as_the_api(client):
    url = reverse("admin:login")
    statuses = [
        client.post(url, {"username": "ops@example.com", "password": f"guess-{n}"}).status_code
        for n in range(6)
    ]
    assert statuses[:5] == [200] * 5  # the form again: wrong password
    assert statuses[5] == 429
    refused = client.post(url, {"username": "ops@example.com", "password": "again"})
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
