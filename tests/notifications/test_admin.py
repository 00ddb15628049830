"""Operator screens of notifications: an action or a search given something that is no id of its rows is
refused with a message, never a 500, and acts on nothing."""

import uuid

import pytest
from django.test import Client

from contexts.notifications.models import Device, Notification, Preference, SandboxMessage, Template
from contexts.users.models import User

pytestmark = pytest.mark.django_db

NOT_IDS = ["not-a-uuid", "", "9" * 40, "1\x00"]


@pytest.fixture
def operator():
    client = Client()
    client.force_login(User.objects.create_superuser("ops@example.com", "a-long-operator-password"))
    return client


def _failed() -> Notification:
    return Notification.objects.create(
        event_id=uuid.uuid4(),
        event_type="orders.OrderConfirmed.v1",
        category="transactional",
        user_id=uuid.uuid4(),
        channel="sms",
        recipient="+4915112345678",
        body_text="Order confirmed",
        status=Notification.Status.FAILED,
    )


@pytest.mark.parametrize("not_an_id", NOT_IDS)
def test_resend_given_something_that_is_no_id_resends_nothing_and_says_so(operator, not_an_id):
    row = _failed()
    response = operator.post(
        "/admin/notifications/notification/",
        {"action": "resend", "_selected_action": [str(row.id), not_an_id]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"is not the id of a notification: nothing was done." in response.content
    row.refresh_from_db()
    assert row.status == Notification.Status.FAILED and row.attempts == 0


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("device", lambda: Device.objects.create(user_id=uuid.uuid4(), token="tok-1", platform="ios")),
        ("preference", lambda: Preference.objects.create(user_id=uuid.uuid4(), channels={}, locale="en")),
        ("template", lambda: Template.objects.create(event_type="x.Y.v1", channel="sms", body_text="x")),
        (
            "sandboxmessage",
            lambda: SandboxMessage.objects.create(key="k", channel="sms", to="+1", body="x", provider_id="p"),
        ),
    ],
)
@pytest.mark.parametrize("not_an_id", NOT_IDS)
def test_deleting_something_that_is_no_id_deletes_nothing(operator, path, make, not_an_id):
    row = make()
    response = operator.post(
        f"/admin/notifications/{path}/",
        {"action": "delete_selected", "_selected_action": [str(row.pk), not_an_id]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"nothing was done" in response.content
    assert type(row).objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("path", ["notification", "device", "preference", "template", "sandboxmessage"])
@pytest.mark.parametrize("term", ["not-a-uuid", "9" * 40])
def test_a_search_for_something_that_is_no_id_finds_nothing_without_failing(operator, path, term):
    assert operator.get(f"/admin/notifications/{path}/", {"q": term}).status_code == 200
