"""What an operator's template may produce is bounded, at save and at send, and a message that cannot be
logged as rendered fails its own row, never the event's handler (which would leave every channel
unlogged and the bus delivery retried until it is dead)."""

import datetime as dt
import time
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from contexts.notifications import rendering, services
from contexts.notifications.data import EMAIL, PUSH, SMS, Preferences, QuietHours
from contexts.notifications.models import Device, Notification, Template
from contexts.orders.events import OrderCancelled
from contexts.shipping.events import ShipmentDelivered
from contexts.users.models import User

pytestmark = pytest.mark.django_db

Status = Notification.Status
CANCELLED = OrderCancelled.EVENT_TYPE
DELIVERED = ShipmentDelivered.EVENT_TYPE
SUBJECT_MAX = Notification._meta.get_field("subject").max_length


def cancelled(user, reason: str) -> OrderCancelled:
    return OrderCancelled(
        order_id=uuid.uuid4(),
        user_id=user.id,
        order_number="SO-7",
        total=Decimal("19.90"),
        currency="EUR",
        cancellation_reason=reason,
    )


def notify(event, user) -> dict[str, Notification]:
    event_id = uuid.uuid4()
    services.notify(
        event=event, event_id=event_id, event_type=event.EVENT_TYPE, user_id=user.id, category="transactional"
    )
    return {n.channel: n for n in Notification.objects.filter(event_id=event_id)}


def prefer(user, channels=(EMAIL, SMS, PUSH), quiet_hours=None, locale="en"):
    services.preferences_set(
        user_id=user.id,
        preferences=Preferences(transactional=channels, marketing=(), quiet_hours=quiet_hours, locale=locale),
    )


def saved_outside_the_admin(event_type: str, channel: str, **fields) -> None:
    """A template changed without its checks (a data migration, a shell): the send must cope."""
    Template.objects.filter(event_type=event_type, channel=channel, locale="en").update(**fields)


def joins(passes: int) -> str:
    """Each pass makes the text about nine times longer: 8 * 9**12 characters after twelve."""
    return "{{ order_number" + "|make_list|join:order_number" * passes + " }}"


LOOPS = (
    "{% for a in cancellation_reason %}{% for b in cancellation_reason %}{% for c in cancellation_reason %}"
    "{% for d in cancellation_reason %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
)


# --- at send time: one row fails, the others are logged ------------------------------------------------


def test_a_subject_longer_than_its_column_is_cut_and_every_channel_is_logged(templates, customer):
    saved_outside_the_admin(CANCELLED, EMAIL, subject="Cancelled: {{ cancellation_reason }}")
    saved_outside_the_admin(CANCELLED, PUSH, subject="{{ cancellation_reason }}")
    Device.objects.create(user_id=customer.id, token="device-token-1", platform="ios")
    prefer(customer)
    rows = notify(cancelled(customer, "out of stock " * 300), customer)
    assert set(rows) == {EMAIL, SMS, PUSH}
    assert all(row.status == Status.QUEUED for row in rows.values()), rows
    for channel in (EMAIL, PUSH):
        subject = rows[channel].subject
        assert SUBJECT_MAX - 2 <= len(subject) <= SUBJECT_MAX and subject.endswith("…"), channel
    assert rows[EMAIL].subject.startswith("Cancelled: out of stock out of stock")


def test_a_body_over_the_limit_fails_its_row_and_the_others_are_sent(templates, customer, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "MAX_BODY_CHARS": 500}
    saved_outside_the_admin(CANCELLED, SMS, body_text="Order {{ order_number }} was cancelled.")
    prefer(customer, channels=(EMAIL, SMS))
    rows = notify(cancelled(customer, "no stock " * 80), customer)
    assert rows[SMS].status == Status.QUEUED
    assert rows[EMAIL].status == Status.FAILED
    assert "more than 500 characters" in rows[EMAIL].reason
    assert rows[EMAIL].body_text == rows[EMAIL].body_html == ""


@pytest.mark.parametrize(
    "source",
    [
        "{{ 0|stringformat:'c' }}",  # NUL: no text column can hold it
        "{{ 55296|stringformat:'c' }}",  # a lone surrogate: UTF-8 cannot encode it
    ],
)
def test_text_the_database_cannot_hold_fails_its_row_not_the_handler(templates, customer, source):
    saved_outside_the_admin(CANCELLED, SMS, body_text=source)
    prefer(customer, channels=(EMAIL, SMS))
    rows = notify(cancelled(customer, "no stock"), customer)
    assert rows[EMAIL].status == Status.QUEUED
    assert rows[SMS].status == Status.FAILED and "U+" in rows[SMS].reason
    assert rows[SMS].body_text == ""


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{% lorem 20000 p %}", id="lorem"),
        pytest.param("{{ order_number|ljust:'50000000' }}", id="ljust"),
        pytest.param(
            "{{ order_number|ljust:'50000000000' }}", id="ljust-giant"
        ),  # refused before it is built
        pytest.param(joins(8), id="joins"),  # "SO-7": 4 * 5**8 characters
        pytest.param(joins(14), id="joins-giant"),  # each pass multiplies: refused before it is built
        pytest.param(LOOPS, id="loops"),  # no output, only work: bounded in steps
    ],
)
def test_a_template_saved_without_its_checks_is_capped_when_sent(templates, customer, source):
    saved_outside_the_admin(CANCELLED, SMS, body_text=source)
    prefer(customer, channels=(EMAIL, SMS))
    started = time.monotonic()
    rows = notify(cancelled(customer, "x" * 300), customer)
    assert time.monotonic() - started < 5
    assert rows[EMAIL].status == Status.QUEUED
    assert rows[SMS].status == Status.FAILED and rows[SMS].body_text == ""
    assert rows[SMS].reason.startswith("the template fails to render: ")


@pytest.mark.parametrize(
    ("moment", "zone", "shown"),
    [
        (dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC), "Asia/Tokyo", "31 December 9999, 23:00"),
        (dt.datetime(1, 1, 1, 1, 0, tzinfo=dt.UTC), "America/New_York", "1 January 0001, 01:00"),
        (dt.datetime(2026, 3, 1, 20, 30, tzinfo=dt.UTC), "Asia/Tokyo", "2 March 2026, 05:30"),  # in the zone
    ],
)
def test_a_time_is_shown_in_the_users_zone_or_in_utc_where_the_zone_cannot_show_it(
    templates, customer, moment, zone, shown
):
    night = QuietHours(start=dt.time(3, 0), end=dt.time(3, 1), timezone=zone)
    prefer(customer, channels=(EMAIL,), quiet_hours=night)
    event = ShipmentDelivered(
        shipment_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        user_id=customer.id,
        carrier="sandbox",
        tracking_number="SBX000000000001",
        location="",
        occurred_at=moment,
    )
    row = notify(event, customer)[EMAIL]
    assert row.status == Status.QUEUED, row.reason
    assert f"delivered on {shown}" in row.body_text


# --- at save time: refused, with the reason ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "expected"),
    [
        pytest.param({"body_text": "{% lorem 20000 p %}"}, "body_text", "1,000 words", id="lorem"),
        pytest.param({"body_text": "{% lorem 999 p %}"}, "body_text", "characters", id="lorem-999"),
        pytest.param(
            {"body_text": "{{ order_number|ljust:'50000000' }}"}, "body_text", "characters", id="ljust"
        ),
        pytest.param(
            {"body_text": "{{ order_number|ljust:'50000000000' }}"},
            "body_text",
            "characters",
            id="ljust-giant",
        ),
        pytest.param({"body_text": joins(5)}, "body_text", "characters", id="joins"),
        pytest.param({"body_text": joins(12)}, "body_text", "characters", id="joins-giant"),
        pytest.param({"body_text": "{{ 0|stringformat:'c' }}"}, "body_text", "U+0000", id="nul"),
        pytest.param(
            {"body_text": "{{ order_number|stringformat:'99999999999s' }}"},
            "body_text",
            "characters",
            id="stringformat-giant",
        ),
        pytest.param({"body_text": LOOPS}, "body_text", "steps", id="loops"),
        pytest.param(
            {"subject": "{% lorem 300 w %}"},
            "subject",
            f"{SUBJECT_MAX:,} characters",
            id="subject",
        ),
        pytest.param(
            {"body_text": "Hello\n{% debug %}"}, "body_text", "Line 2: {% debug %} is not allowed", id="debug"
        ),
        pytest.param({"locale": "../../x"}, "locale", "language tag", id="locale-path"),
        pytest.param({"locale": "en\x00"}, "locale", "language tag", id="locale-nul"),
    ],
)
def test_a_template_that_produces_too_much_is_refused_on_save(fields, field, expected):
    template = Template(event_type=CANCELLED, channel="email", **{"subject": "x", "body_text": "x", **fields})
    started = time.monotonic()
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert time.monotonic() - started < 5
    assert expected in " ".join(caught.value.message_dict[field]), caught.value.message_dict


def test_a_template_within_the_limits_is_saved_and_loops_over_its_payload():
    template = Template(
        event_type=CANCELLED,
        channel="email",
        locale="pt-BR",
        subject="{{ order_number|ljust:'20' }}|",
        body_text="{% for c in order_number %}[{{ c }}]{% endfor %} {% lorem 3 w %}",
    )
    template.full_clean()
    assert template.locale == "pt-br"
    rendered = rendering.render(
        subject=template.subject,
        body_text=template.body_text,
        body_html="",
        context=rendering.sample_context(CANCELLED),
    )
    assert rendered.subject == "SO-10042 |"
    assert rendered.body_text == "[S][O][-][1][0][0][4][2] lorem ipsum dolor"


def test_the_admin_refuses_a_template_that_produces_too_much_and_previews_an_old_one_safely(templates):
    operator = User.objects.create_superuser("ops@example.com", "a-long-operator-password")
    client = Client()
    client.force_login(operator)
    response = client.post(
        reverse("admin:notifications_template_add"),
        {
            "event_type": CANCELLED,
            "channel": "sms",
            "locale": "fr",
            "subject": "",
            "body_text": "{% lorem 20000 p %}",
            "body_html": "",
        },
    )
    assert response.status_code == 200 and b"Too much for a message" in response.content
    assert not Template.objects.filter(locale="fr").exists()
    saved_outside_the_admin(CANCELLED, SMS, body_text="{% lorem 20000 p %}")
    template = Template.objects.get(event_type=CANCELLED, channel=SMS, locale="en")
    page = client.get(reverse("admin:notifications_template_change", args=[template.pk]))
    assert page.status_code == 200 and b"Does not render" in page.content
    assert len(page.content) < 200_000


def test_preferences_hold_their_locale_to_the_same_language_tag_rule(customer):
    with pytest.raises(ValidationError) as caught:
        prefer(customer, locale="../../x")
    assert caught.value.message_dict["locale"] == ["A language tag such as en or pt-BR."]
