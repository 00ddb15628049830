"""Planning and sending, in-process with a frozen clock: quiet hours, categories, unreachable channels,
retries with backoff, the log's uniqueness, the sweep and the operator's resend."""

import datetime as dt
import logging
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from contexts.notifications import handlers, services
from contexts.notifications.data import EMAIL, PUSH, SMS, Preferences, QuietHours
from contexts.notifications.models import Category, Device, Notification, SandboxMessage
from contexts.notifications.providers import SendFailed, sandbox
from contexts.notifications.providers.http import HttpSms
from contexts.orders.events import OrderCancelled, OrderConfirmed
from contexts.payments import api as payments
from contexts.payments.events import PaymentRefunded
from contexts.users.events import PasswordChanged
from integration.resilience.stub import StubServer
from tests.notifications.conftest import UserFactory

pytestmark = pytest.mark.django_db

Status = Notification.Status
PARIS = "Europe/Paris"
NIGHT = QuietHours(start=dt.time(22, 0), end=dt.time(7, 0), timezone=PARIS)
# 23:30 in Paris on a summer night (UTC+2), and 07:00 the next morning.
LATE = dt.datetime(2026, 7, 1, 21, 30, tzinfo=dt.UTC)
MORNING = dt.datetime(2026, 7, 2, 5, 0, tzinfo=dt.UTC)


def confirmed(user) -> OrderConfirmed:
    return OrderConfirmed(
        order_id=uuid.uuid4(), user_id=user.id, order_number="SO-7", total=Decimal("19.90"), currency="EUR"
    )


def notify(event, user, category=Category.TRANSACTIONAL, event_id=None) -> uuid.UUID:
    event_id = event_id or uuid.uuid4()
    services.notify(
        event=event, event_id=event_id, event_type=event.EVENT_TYPE, user_id=user.id, category=category
    )
    return event_id


def by_channel(event_id) -> dict[str, Notification]:
    return {n.channel: n for n in Notification.objects.filter(event_id=event_id)}


def prefer(user, transactional=(EMAIL, SMS, PUSH), marketing=(), quiet_hours=None, locale="en"):
    services.preferences_set(
        user_id=user.id,
        preferences=Preferences(
            transactional=transactional, marketing=marketing, quiet_hours=quiet_hours, locale=locale
        ),
    )


@pytest.mark.parametrize(
    ("quiet", "now", "end"),
    [
        (NIGHT, LATE, MORNING),  # before midnight: ends tomorrow morning
        (NIGHT, dt.datetime(2026, 7, 2, 3, 0, tzinfo=dt.UTC), MORNING),  # 05:00 Paris: ends this morning
        (NIGHT, dt.datetime(2026, 7, 2, 5, 0, tzinfo=dt.UTC), None),  # 07:00 sharp: over
        (NIGHT, dt.datetime(2026, 7, 2, 10, 0, tzinfo=dt.UTC), None),  # midday
        (
            NIGHT,
            dt.datetime(2026, 1, 15, 22, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 16, 6, 0, tzinfo=dt.UTC),
        ),  # winter
        (
            QuietHours(start=dt.time(13, 0), end=dt.time(14, 0), timezone="Asia/Tokyo"),
            dt.datetime(2026, 7, 1, 4, 30, tzinfo=dt.UTC),  # 13:30 in Tokyo
            dt.datetime(2026, 7, 1, 5, 0, tzinfo=dt.UTC),
        ),
        (
            # Clocks go back in Paris at 03:00 CEST on 25 October 2026: 02:30 happens twice. At 01:15
            # UTC (02:15, the second time) the quiet hours end at the second 02:30, 01:30 UTC.
            QuietHours(start=dt.time(1, 0), end=dt.time(2, 30), timezone="Europe/Paris"),
            dt.datetime(2026, 10, 25, 1, 15, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC),
        ),
        (
            # ... and at 00:15 UTC (02:15, the first time) at the first 02:30, 00:30 UTC.
            QuietHours(start=dt.time(1, 0), end=dt.time(2, 30), timezone="Europe/Paris"),
            dt.datetime(2026, 10, 25, 0, 15, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),
        ),
    ],
)
def test_quiet_hours_end_at_the_next_local_end_time(quiet, now, end):
    assert quiet.end_of_quiet(now) == end


def test_inside_quiet_hours_sms_and_push_wait_until_they_end_and_email_does_not(templates, customer):
    Device.objects.create(user_id=customer.id, token="fcm-1", platform="android")
    prefer(customer, quiet_hours=NIGHT)
    with time_machine.travel(LATE, tick=False):
        rows = by_channel(notify(confirmed(customer), customer))
        assert rows[EMAIL].status == Status.QUEUED
        assert services.notification_send(notification_id=rows[EMAIL].id).status == Status.SENT
    for channel in (SMS, PUSH):
        assert (rows[channel].status, rows[channel].next_attempt_at) == (Status.DELAYED, MORNING)
        assert rows[channel].reason == "quiet hours until 2026-07-02 05:00 UTC"
    assert rows[SMS].body_text == "Shop: order SO-7 is confirmed (19.90 EUR). We will tell you when it ships."
    assert (rows[PUSH].recipient, rows[PUSH].subject) == ("fcm-1", "Order confirmed")

    # The sweep leaves them until the quiet hours end, then queues them; a send delivers each once.
    with time_machine.travel(MORNING - dt.timedelta(seconds=1), tick=False):
        assert services.notifications_send_due() == 0
    with time_machine.travel(MORNING, tick=False):
        assert services.notifications_send_due() == 2
        for channel in (SMS, PUSH):
            assert services.notification_send(notification_id=rows[channel].id).status == Status.SENT
            assert services.notification_send(notification_id=rows[channel].id).status == Status.SENT
    sms = SandboxMessage.objects.get(key=str(rows[SMS].id))
    assert (sms.to, sms.body) == ("+4915112345678", rows[SMS].body_text)
    assert SandboxMessage.objects.count() == 2


def test_a_security_notice_is_never_held_back_by_quiet_hours(templates, customer):
    prefer(customer, transactional=(EMAIL, SMS), quiet_hours=NIGHT)
    with time_machine.travel(LATE, tick=False):
        rows = by_channel(notify(PasswordChanged(user_id=customer.id), customer, Category.SECURITY))
    assert {c: r.status for c, r in rows.items()} == {EMAIL: Status.QUEUED, SMS: Status.QUEUED}
    assert rows[SMS].body_text.startswith("Shop: your password was changed")


def test_a_channel_that_cannot_reach_the_user_falls_back_to_email_and_the_log_says_so(templates, caplog):
    user = UserFactory(phone="")
    prefer(user)
    with caplog.at_level(logging.INFO):
        rows = by_channel(notify(confirmed(user), user))
    assert rows[EMAIL].status == Status.QUEUED
    assert (rows[SMS].status, rows[SMS].recipient, rows[SMS].reason) == (
        Status.SUPPRESSED,
        "",
        "no phone number: the message goes by email instead",
    )
    assert rows[PUSH].reason == "no device registered for push: the message goes by email instead"
    assert "notification.fallback" in caplog.text


def test_marketing_needs_consent_and_never_falls_back_to_email(templates):
    no_consent = UserFactory(marketing_opt_in=False)
    prefer(no_consent, marketing=(EMAIL,))
    (row,) = by_channel(notify(confirmed(no_consent), no_consent, Category.MARKETING)).values()
    assert (row.status, row.reason) == (Status.SUPPRESSED, "no marketing consent on the account")

    sms_only = UserFactory(marketing_opt_in=True, phone="")
    prefer(sms_only, marketing=(SMS,))
    rows = by_channel(notify(confirmed(sms_only), sms_only, Category.MARKETING))
    assert list(rows) == [SMS]
    assert rows[SMS].reason == "no phone number; marketing messages do not fall back to email"


def test_a_deactivated_account_gets_nothing(templates):
    user = UserFactory(is_active=False)
    (row,) = by_channel(notify(confirmed(user), user)).values()
    assert (row.status, row.reason) == (Status.SUPPRESSED, "the account is deactivated")


def test_an_event_is_logged_once_per_channel_and_recipient(templates, customer):
    prefer(customer, transactional=(EMAIL, SMS))
    event = confirmed(customer)
    event_id = notify(event, customer)
    # A handler run twice (its inbox bypassed) writes nothing more: the unique row holds.
    assert (
        services.notify(
            event=event,
            event_id=event_id,
            event_type=event.EVENT_TYPE,
            user_id=customer.id,
            category="transactional",
        )
        == 0
    )
    assert Notification.objects.filter(event_id=event_id).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            event_id=event_id, event_type=event.EVENT_TYPE, category="transactional", user_id=customer.id,
            channel=EMAIL, recipient=customer.email,
        )  # fmt: skip


def test_a_failing_sms_retries_with_backoff_then_fails_and_the_email_carries_it(templates, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "MAX_ATTEMPTS": 4}
    user = UserFactory(phone=sandbox.FAILING_NUMBER)
    prefer(user, transactional=(EMAIL, SMS))
    rows = by_channel(notify(confirmed(user), user))
    assert services.notification_send(notification_id=rows[EMAIL].id).status == Status.SENT

    base, cap = settings.NOTIFICATIONS["BACKOFF_BASE_SECONDS"], settings.NOTIFICATIONS["BACKOFF_MAX_SECONDS"]
    for attempt in (1, 2, 3):
        outcome = services.notification_send(notification_id=rows[SMS].id)
        ceiling = min(cap, base * 2 ** (attempt - 1))
        assert outcome.status == Status.QUEUED and ceiling / 2 <= outcome.retry_in <= ceiling
    assert services.notification_send(notification_id=rows[SMS].id) == services.SendOutcome(Status.FAILED)
    sms = Notification.objects.get(id=rows[SMS].id)
    assert (sms.attempts, sms.last_error) == (4, "sandbox: provider unavailable")
    assert sms.reason == "gave up after 4 attempts: the message goes by email instead"
    assert services.notification_send(notification_id=sms.id).status == Status.FAILED  # left alone


def test_a_refused_sms_fails_at_once(templates):
    user = UserFactory(phone=sandbox.REFUSED_NUMBER)
    prefer(user, transactional=(EMAIL, SMS))
    rows = by_channel(notify(confirmed(user), user))
    assert services.notification_send(notification_id=rows[SMS].id).status == Status.FAILED
    sms = Notification.objects.get(id=rows[SMS].id)
    assert (sms.attempts, sms.reason) == (1, "the provider refused it: the message goes by email instead")


def test_the_operator_resends_only_failed_messages_with_fresh_attempts(templates, customer):
    prefer(customer, transactional=(EMAIL, SMS))
    rows = by_channel(notify(confirmed(customer), customer))
    Notification.objects.filter(id=rows[SMS].id).update(status=Status.FAILED, attempts=5, last_error="down")
    assert services.notifications_resend(notification_ids=[rows[SMS].id, rows[EMAIL].id]) == 1
    sms = Notification.objects.get(id=rows[SMS].id)
    assert (sms.status, sms.attempts, sms.last_error, sms.reason) == (
        Status.QUEUED,
        0,
        "",
        "resent by an operator",
    )
    assert services.notification_send(notification_id=sms.id).status == Status.SENT


def test_the_sweep_sends_again_a_queued_message_whose_task_was_lost(templates, customer):
    event_id = notify(confirmed(customer), customer)
    assert services.notifications_send_due() == 0  # just queued: its task is on its way
    later = timezone.now() + dt.timedelta(seconds=121)
    with time_machine.travel(later, tick=False):
        assert services.notifications_send_due() == 1
    assert Notification.objects.get(event_id=event_id).next_attempt_at >= later - dt.timedelta(seconds=1)


def test_the_language_and_time_zone_of_the_user_shape_the_message(templates, customer):
    from contexts.notifications.models import Template

    Template.objects.create(
        event_type=OrderCancelled.EVENT_TYPE,
        channel="email",
        locale="de",
        subject="Bestellung {{ order_number }}",
        body_text="Storniert: {{ cancellation_reason }}",
        body_html="<p>{{ cancellation_reason }}</p>",
    )
    prefer(customer, transactional=(EMAIL,), locale="de-DE")
    event = OrderCancelled(
        order_id=uuid.uuid4(),
        user_id=customer.id,
        order_number="SO-9",
        total=Decimal("5.00"),
        currency="EUR",
        cancellation_reason="<Lager> leer",
    )
    row = by_channel(notify(event, customer))[EMAIL]
    assert (row.locale, row.subject, row.body_text, row.body_html) == (
        "de", "Bestellung SO-9", "Storniert: <Lager> leer", "<p>&lt;Lager&gt; leer</p>",
    )  # fmt: skip


def test_a_refund_reaches_the_payer_named_by_payments(templates, customer):
    payment = payments.payment_authorize(
        key="notify-refund", order_id=uuid.uuid4(), user_id=customer.id, amount=Decimal("30.00"),
        currency="EUR", payment_method="pm_sandbox_ok",
    )  # fmt: skip
    event = PaymentRefunded(
        payment_id=payment.id, order_id=payment.order_id, refund_id=uuid.uuid4(), amount=Decimal("10.00"),
        currency="EUR", refunded_total=Decimal("10.00"), fully_refunded=False,
    )  # fmt: skip
    envelope = SimpleNamespace(id=uuid.uuid4(), type=PaymentRefunded.EVENT_TYPE)
    handlers.on_payment_refunded(event, envelope)
    row = Notification.objects.get(event_id=envelope.id)
    assert (row.user_id, row.recipient, row.subject) == (
        customer.id,
        customer.email,
        "Your refund of 10.00 EUR",
    )
    assert "Refunded so far: 10.00 EUR." in row.body_text


def test_the_http_sms_adapter_sends_through_the_resilient_client(settings):
    with StubServer() as stub:
        settings.RESILIENCE = {
            "DEFAULTS": settings.RESILIENCE["DEFAULTS"],
            "DEPENDENCIES": {"sms": {"base_url": stub.url, "max_attempts": 2, "backoff_base": 0.01}},
        }
        provider = HttpSms()
        assert provider.send_sms(key="n-1", to="+4915112345678", body="hi")
        assert stub.app.effects_for("n-1:send") == 1

        stub.app.add_fault(status=422)
        with pytest.raises(SendFailed) as refused:
            provider.send_sms(key="n-2", to="+4915112345678", body="hi")
        assert refused.value.permanent

        stub.app.add_fault(status=503, times=2)
        with pytest.raises(SendFailed) as down:
            provider.send_sms(key="n-3", to="+4915112345678", body="hi")
        assert not down.value.permanent and stub.app.calls_for("n-3:send") == 2


def test_a_template_saved_broken_outside_the_admin_fails_its_row_not_the_handler(templates, customer):
    from contexts.notifications.models import Template

    Template.objects.filter(event_type=OrderConfirmed.EVENT_TYPE, channel=SMS).update(body_text="{% if %}")
    prefer(customer, transactional=(EMAIL, SMS))
    rows = by_channel(notify(confirmed(customer), customer))
    assert rows[EMAIL].status == Status.QUEUED
    assert rows[SMS].status == Status.FAILED
    assert rows[SMS].reason.startswith("the template fails to render: ")


def test_an_email_to_no_address_is_failed_never_sent(templates):
    user = UserFactory()
    get_user_model().objects.filter(pk=user.pk).update(email="")  # only a direct write can do this
    user.refresh_from_db()
    rows = by_channel(notify(PasswordChanged(user_id=user.id), user, Category.SECURITY))
    assert services.notification_send(notification_id=rows[EMAIL].id).status == Status.FAILED
    row = Notification.objects.get(id=rows[EMAIL].id)
    assert row.status == Status.FAILED and "no email address" in row.last_error
    assert len(mail.outbox) == 0
