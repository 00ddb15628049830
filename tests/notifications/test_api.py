"""The notifications REST API: preferences, devices and the caller's delivery log."""

import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from contexts.notifications import services
from contexts.notifications.models import Device, Notification
from tests.notifications.conftest import UserFactory, bearer_client, login
from tests.users.conftest import assert_problem

pytestmark = pytest.mark.django_db

PREFS = "/api/v1/notifications/preferences/"
DEVICES = "/api/v1/notifications/devices/"
# The body as the storefront sends it.
EXAMPLE = {
    "channels": {"transactional": ["email", "sms", "push"], "marketing": []},
    "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
    "locale": "en",
}


def client_of(user):
    from rest_framework.test import APIClient

    return bearer_client(login(APIClient(), user.email)["access"])


def test_preferences_default_to_email_the_account_language_and_its_marketing_consent():
    consenting = UserFactory(locale="de-AT", marketing_opt_in=True)
    body = client_of(consenting).get(PREFS).json()
    assert body == {
        "channels": {"transactional": ["email"], "marketing": ["email"]},
        "quiet_hours": None,
        "locale": "de-AT",
    }
    assert client_of(UserFactory()).get(PREFS).json()["channels"]["marketing"] == []


def test_preferences_are_read_back_as_they_were_put(customer_client):
    response = customer_client.put(PREFS, EXAMPLE, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == EXAMPLE
    assert customer_client.get(PREFS).json() == EXAMPLE

    without_quiet = {
        **EXAMPLE,
        "quiet_hours": None,
        "channels": {"transactional": ["email"], "marketing": ["sms"]},
    }
    assert customer_client.put(PREFS, without_quiet, format="json").json() == without_quiet
    assert customer_client.get(PREFS).json() == without_quiet


def test_switching_transactional_email_off_is_refused_and_says_so(customer_client):
    before = customer_client.get(PREFS).json()
    body = {**EXAMPLE, "channels": {"transactional": ["sms", "push"], "marketing": ["email"]}}
    problem = assert_problem(customer_client.put(PREFS, body, format="json"), 400, "validation-error")
    assert problem["errors"] == {
        "channels.transactional": [
            'Transactional email cannot be switched off: the list must include "email".'
        ]
    }
    assert customer_client.get(PREFS).json() == before


@pytest.mark.parametrize(
    ("quiet_hours", "field"),
    [
        ({"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus_Mons"}, "quiet_hours.timezone"),
        ({"start": "22:00", "end": "07:00", "timezone": "CEST"}, "quiet_hours.timezone"),
        ({"start": "22:00", "end": "07:00", "timezone": "+02:00"}, "quiet_hours.timezone"),
        ({"start": "22:00", "end": "07:00", "timezone": "localtime"}, "quiet_hours.timezone"),
        ({"start": "24:00", "end": "07:00", "timezone": "Europe/Paris"}, "quiet_hours.start"),
        ({"start": "7:00", "end": "07:00", "timezone": "Europe/Paris"}, "quiet_hours.start"),
        ({"start": "22:00", "end": "22:00", "timezone": "Europe/Paris"}, "quiet_hours.end"),
    ],
)
def test_quiet_hours_need_an_iana_time_zone_and_two_times_of_day(customer_client, quiet_hours, field):
    problem = assert_problem(
        customer_client.put(PREFS, {**EXAMPLE, "quiet_hours": quiet_hours}, format="json"), 400
    )
    assert field in problem["errors"]


@pytest.mark.parametrize(
    "channels",
    [
        {"transactional": ["email", "email"], "marketing": []},
        {"transactional": ["email", "fax"], "marketing": []},
        {"transactional": ["email"]},
        {"transactional": "email", "marketing": []},
    ],
)
def test_channel_lists_hold_known_channels_once(customer_client, channels):
    assert_problem(customer_client.put(PREFS, {**EXAMPLE, "channels": channels}, format="json"), 400)


def test_devices_are_registered_once_listed_and_removed(customer_client):
    created = customer_client.post(DEVICES, {"token": "fcm-token-1", "platform": "android"}, format="json")
    assert created.status_code == 201, created.content
    device = created.json()
    assert set(device) == {"id", "token", "platform", "created_at"}
    again = customer_client.post(DEVICES, {"token": "fcm-token-1", "platform": "android"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == device["id"]

    listing = customer_client.get(DEVICES).json()
    assert [d["id"] for d in listing["results"]] == [device["id"]]

    assert customer_client.delete(f"{DEVICES}{device['id']}/").status_code == 204
    assert_problem(customer_client.delete(f"{DEVICES}{device['id']}/"), 404, "device-not-found")
    assert customer_client.get(DEVICES).json()["results"] == []


def test_another_users_device_is_not_found_and_stays(customer, customer_client):
    intruder = client_of(UserFactory())
    device_id = customer_client.post(DEVICES, {"token": "apns-1", "platform": "ios"}, format="json").json()[
        "id"
    ]
    assert_problem(intruder.delete(f"{DEVICES}{device_id}/"), 404, "device-not-found")
    assert intruder.get(DEVICES).json()["results"] == []
    assert Device.objects.filter(id=device_id, user_id=customer.id).exists()


def test_a_token_registered_by_someone_else_moves_to_the_new_user(customer, customer_client):
    other = UserFactory()
    client_of(other).post(DEVICES, {"token": "shared-tablet", "platform": "web"}, format="json")
    assert (
        customer_client.post(
            DEVICES, {"token": "shared-tablet", "platform": "web"}, format="json"
        ).status_code
        == 201
    )
    assert list(Device.objects.filter(token="shared-tablet").values_list("user_id", flat=True)) == [
        customer.id
    ]


@pytest.mark.parametrize(
    "token", ["fcm\x01token", "fcm\ntoken", "fcm\x7ftoken", "fcm token", "fcm\u200btoken", "fcmé"]
)
def test_a_device_token_is_printable_ascii_without_spaces(customer, customer_client, token):
    problem = assert_problem(
        customer_client.post(DEVICES, {"token": token, "platform": "ios"}, format="json"), 400
    )
    assert problem["errors"] == {
        "token": ["A push token is 1-512 printable ASCII characters without spaces."]
    }
    with pytest.raises(ValidationError) as caught:
        services.device_register(user_id=customer.id, token=token, platform="ios")
    assert "token" in caught.value.message_dict
    assert not Device.objects.exists()


def test_the_log_lists_the_callers_own_notifications_newest_first(customer, customer_client):
    other = UserFactory()

    def row(user, subject, minutes):
        from django.utils import timezone

        return Notification.objects.create(
            event_id=uuid.uuid4(),
            event_type="orders.OrderConfirmed.v1",
            category="transactional",
            user_id=user.id,
            channel="email",
            recipient=user.email,
            subject=subject,
            body_text="...",
            status="sent",
            created_at=timezone.now() - timezone.timedelta(minutes=minutes),
        )

    row(customer, "older", 10)
    row(customer, "newer", 1)
    row(other, "not yours", 0)
    body = customer_client.get("/api/v1/notifications/").json()
    assert body["count"] == 2
    assert [n["subject"] for n in body["results"]] == ["newer", "older"]
    assert set(body["results"][0]) == {
        "id", "event_type", "category", "channel", "recipient", "subject", "body", "status", "reason",
        "created_at", "sent_at",
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_token_take_turns_and_it_ends_with_one_user():
    users = [UserFactory(), UserFactory()]
    errors, barrier = [], threading.Barrier(12)

    def register(i):
        try:
            barrier.wait()
            services.device_register(user_id=users[i % 2].id, token="race-token", platform="android")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    [device] = Device.objects.filter(token="race-token")
    assert device.user_id in {u.id for u in users}


def test_an_install_reporting_another_platform_is_updated(customer):
    device, created = services.device_register(user_id=customer.id, token="tok-1", platform="android")
    again, created_again = services.device_register(user_id=customer.id, token="tok-1", platform="web")
    assert created and not created_again and again.id == device.id and again.platform == "web"
