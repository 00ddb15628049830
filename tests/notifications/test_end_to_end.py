"""Notifications end to end: events through the real bus (PostgreSQL outbox, RabbitMQ) to a real Celery
worker, which sends email to a real SMTP server on loopback and SMS to a stub gateway over HTTP."""

import datetime as dt
import uuid
import zoneinfo

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contexts.notifications import services
from contexts.notifications.data import EMAIL, SMS, Preferences, QuietHours
from contexts.notifications.models import Notification, Template
from contexts.shipping import events as shipping
from contexts.users import services as users
from contexts.users.models import User
from integration import bus
from integration.bus import core
from integration.bus.models import Delivery
from integration.tasks import deliver_event
from tests.notifications.conftest import UserFactory, seed_templates
from tests.notifications.newsletter import handlers as newsletter
from tests.notifications.newsletter.events import NewsletterPublished
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

Status = Notification.Status
PARIS = "Europe/Paris"


@pytest.fixture(autouse=True)
def _setup(notifications_worker, sms_gateway):
    seed_templates()
    sms_gateway.app.reset()


@pytest.fixture
def marketing():
    newsletter.register()
    Template.objects.create(
        event_type=NewsletterPublished.EVENT_TYPE,
        channel=EMAIL,
        subject="Newsletter {{ issue }}",
        body_text="Hello {{ customer.name }}, issue {{ issue }} is out.",
    )
    yield
    newsletter.unregister()


def rows(event_id, **filters):
    return list(Notification.objects.filter(event_id=event_id, **filters))


def settled(event_id, count):
    """The event's log has `count` rows and none is still queued."""
    found = rows(event_id)
    return len(found) == count and all(n.status != Status.QUEUED for n in found)


def publish(event) -> uuid.UUID:
    with transaction.atomic():
        return bus.publish(event)


def shipment_event(cls, user: User):
    return cls(
        shipment_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        user_id=user.id,
        carrier="sandbox",
        tracking_number="SBX123456789012",
        occurred_at=timezone.now(),
    )


def sms_and_email(user: User, *, quiet_hours: QuietHours | None = None) -> None:
    services.preferences_set(
        user_id=user.id,
        preferences=Preferences(
            transactional=(EMAIL, SMS), marketing=(), quiet_hours=quiet_hours, locale="en"
        ),
    )


def test_registering_sends_exactly_one_welcome_email_to_a_real_smtp_server(api_client, smtp_server):
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "email": "grace@example.com",
            "password": "a-Long-secret-2024",
            "first_name": "Grace",
            "last_name": "Hopper",
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    wait_until(lambda: smtp_server.inbox.to("grace@example.com"), timeout=30, message="the welcome email")
    (message,) = smtp_server.inbox.to("grace@example.com")
    assert message["Subject"] == "Welcome to the Shop"
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Grace Hopper,\n\nYour account grace@example.com is ready.")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<p>Hello Grace Hopper,</p>" in html

    (row,) = Notification.objects.filter(recipient="grace@example.com")
    wait_until(lambda: Notification.objects.get(id=row.id).status == Status.SENT, message="marked sent")
    row.refresh_from_db()
    assert (row.event_type, row.channel, row.category, row.attempts) == (
        "users.UserRegistered.v1",
        EMAIL,
        "transactional",
        1,
    )
    assert row.provider_id == message["Message-ID"] == f"<{row.id}@localhost>"
    assert row.subject == "Welcome to the Shop" and row.body_text == text.strip()
    assert len(smtp_server.inbox.to("grace@example.com")) == 1


def test_the_same_event_delivered_five_times_sends_one_email(smtp_server, monkeypatch):
    # The relay is held back so that this test hands the delivery to the worker itself, five times.
    monkeypatch.setattr(core, "dispatch_message", lambda *args, **kwargs: None)
    user = users.user_register(email="twice@example.com", password="a-Long-secret-2024", first_name="Ada")
    delivery = Delivery.objects.get(
        handler="notifications.on_user_registered", message__payload__user_id=str(user.id)
    )

    for _ in range(5):
        deliver_event.apply_async((delivery.id,), queue=delivery.queue)
    wait_until(lambda: smtp_server.inbox.to("twice@example.com"), timeout=30, message="the welcome email")
    event_id = delivery.message_id
    wait_until(lambda: settled(event_id, 1), message="the log settled")

    # A delivery whose status write was lost runs again: the inbox, then the log's unique row, hold.
    Delivery.objects.filter(id=delivery.id).update(status="pending")
    (row,) = rows(event_id)
    for _ in range(5):
        deliver_event.apply_async((delivery.id,), queue=delivery.queue)
        # and the send task itself, redelivered: the row is sent, so nothing goes out again
        from contexts.notifications.tasks import send_notification

        send_notification.apply_async((str(row.id),))
    wait_until(lambda: Delivery.objects.get(id=delivery.id).status == "delivered", message="redeliveries")
    wait_until(
        lambda: Notification.objects.get(id=row.id).attempts == 1 and settled(event_id, 1), message="log"
    )

    assert len(smtp_server.inbox.to("twice@example.com")) == 1
    assert Notification.objects.get(id=row.id).status == Status.SENT


def test_a_user_who_opted_out_of_marketing_gets_none_and_the_log_says_suppressed(marketing, smtp_server):
    opted_out = UserFactory(email="no-offers@example.com", marketing_opt_in=False)
    opted_in = UserFactory(email="offers@example.com", marketing_opt_in=True)
    consent_but_no_channel = UserFactory(email="quiet@example.com", marketing_opt_in=True)
    services.preferences_set(
        user_id=consent_but_no_channel.id,
        preferences=Preferences(transactional=(EMAIL,), marketing=(), quiet_hours=None, locale="en"),
    )

    events = {
        u.email: publish(NewsletterPublished(user_id=u.id, issue="42"))
        for u in (opted_out, opted_in, consent_but_no_channel)
    }
    for event_id in events.values():
        wait_until(lambda event_id=event_id: settled(event_id, 1), timeout=30, message="the log")

    wait_until(lambda: smtp_server.inbox.to("offers@example.com"), message="the opted-in user's newsletter")
    assert smtp_server.inbox.to("offers@example.com")[0]["Subject"] == "Newsletter 42"
    (sent,) = rows(events["offers@example.com"])
    assert (sent.status, sent.category) == (Status.SENT, "marketing")

    (refused,) = rows(events["no-offers@example.com"])
    assert (refused.status, refused.channel, refused.reason) == (
        Status.SUPPRESSED,
        EMAIL,
        "no marketing consent on the account",
    )
    (no_channel,) = rows(events["quiet@example.com"])
    assert (no_channel.status, no_channel.reason) == (Status.SUPPRESSED, "opted out of marketing messages")
    assert smtp_server.inbox.to("no-offers@example.com") == smtp_server.inbox.to("quiet@example.com") == []


def _quiet_now(zone: str) -> QuietHours:
    """Quiet hours that hold now: from an hour ago to an hour ahead, local time."""
    local = timezone.now().astimezone(zoneinfo.ZoneInfo(zone)).replace(second=0, microsecond=0)
    return QuietHours(
        start=(local - dt.timedelta(hours=1)).time(),
        end=(local + dt.timedelta(hours=1)).time(),
        timezone=zone,
    )


def test_an_sms_inside_quiet_hours_is_delayed_then_sent_when_they_end(smtp_server, sms_gateway):
    user = UserFactory(email="night-owl@example.com", phone="+33612345678")
    quiet = _quiet_now(PARIS)
    sms_and_email(user, quiet_hours=quiet)

    event_id = publish(shipment_event(shipping.ShipmentOutForDelivery, user))
    wait_until(lambda: settled(event_id, 2), timeout=30, message="email sent, SMS delayed")

    (email_row,) = rows(event_id, channel=EMAIL)
    (sms_row,) = rows(event_id, channel=SMS)
    assert email_row.status == Status.SENT  # quiet hours never hold back email
    assert smtp_server.inbox.to("night-owl@example.com")[0]["Subject"] == "Your parcel arrives today"
    assert sms_row.status == Status.DELAYED and sms_row.recipient == "+33612345678"
    assert sms_row.next_attempt_at == quiet.end_of_quiet(sms_row.created_at)
    assert sms_row.reason.startswith("quiet hours until ")
    assert sms_gateway.app.total_calls == 0

    # Still quiet a minute before the end: the sweep leaves it.
    with time_machine.travel(sms_row.next_attempt_at - dt.timedelta(minutes=1), tick=False):
        assert services.notifications_send_due() == 0
    # The clock reaches the end of the quiet hours: the beat sweep queues it and the worker sends it.
    with time_machine.travel(sms_row.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert services.notifications_send_due() == 1
    wait_until(lambda: Notification.objects.get(id=sms_row.id).status == Status.SENT, message="the SMS sent")

    key = f"{sms_row.id}:send"
    assert sms_gateway.app.effects_for(key) == 1
    assert sms_gateway.app.summary()["total"] == 1
    assert Notification.objects.get(id=sms_row.id).attempts == 1


def test_a_failing_sms_provider_retries_then_fails_visibly_and_the_email_carries_the_message(
    smtp_server, sms_gateway
):
    sms_gateway.app.add_fault(status=503, times=None, path="/v1/messages")
    user = UserFactory(email="unlucky@example.com", phone="+33698765432")
    sms_and_email(user)

    event_id = publish(shipment_event(shipping.ShipmentDelivered, user))
    wait_until(lambda: settled(event_id, 2), timeout=40, message="the SMS given up")

    (sms_row,) = rows(event_id, channel=SMS)
    assert sms_row.status == Status.FAILED
    assert sms_row.attempts == 3  # NOTIFICATIONS_MAX_ATTEMPTS of the test worker
    assert "status 503" in sms_row.last_error
    assert sms_row.reason == "gave up after 3 attempts: the message goes by email instead"
    # Each attempt went through the resilient client, which itself tried twice with the same key.
    assert sms_gateway.app.calls_for(f"{sms_row.id}:send") == 6
    assert sms_gateway.app.effects_for(f"{sms_row.id}:send") == 0
    (mail,) = smtp_server.inbox.to("unlucky@example.com")
    assert mail["Subject"] == "Your parcel was delivered"

    # An operator sees the failure in the admin and resends it once the gateway is back.
    operator = User.objects.create_superuser("ops@example.com", "a-long-operator-password")
    admin = Client()
    admin.force_login(operator)
    changelist = reverse("admin:notifications_notification_changelist")
    listing = admin.get(changelist, {"status__exact": "failed"})
    assert listing.status_code == 200 and str(sms_row.recipient) in listing.content.decode()
    sms_gateway.app.clear_faults()
    response = admin.post(changelist, {"action": "resend", "_selected_action": [sms_row.id]}, follow=True)
    assert "Resending 1 notification(s)." in response.content.decode()

    wait_until(
        lambda: Notification.objects.get(id=sms_row.id).status == Status.SENT, message="the resent SMS"
    )
    assert sms_gateway.app.effects_for(f"{sms_row.id}:send") == 1
    assert len(smtp_server.inbox.to("unlucky@example.com")) == 1
