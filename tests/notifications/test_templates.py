"""Message templates: refused on save with the line of a syntax error, previewed in the admin, shipped
in English for every subscribed event, found by locale with English as the fallback."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from contexts.notifications import rendering, selectors
from contexts.notifications.models import Template
from contexts.users.models import User
from integration.bus import registry

pytestmark = pytest.mark.django_db

CONFIRMED = "orders.OrderConfirmed.v1"


@pytest.fixture
def admin_client(db):
    operator = User.objects.create_superuser("ops@example.com", "a-long-operator-password")
    client = Client()
    client.force_login(operator)
    return client


def test_a_template_with_a_syntax_error_cannot_be_saved_and_the_error_names_its_line():
    template = Template(
        event_type=CONFIRMED,
        channel="email",
        subject="Order {{ order_number }}",
        body_text="Hello,\n\n{% if total %}\nYour total is {{ total }}.\n",
        body_html="<p>{{ order_number|no_such_filter }}</p>",
    )
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    errors = caught.value.message_dict
    assert errors["body_text"] == [
        "Line 3: Unclosed tag on line 3: 'if'. Looking for one of: elif, else, endif."
    ]
    assert errors["body_html"] == ["Line 1: Invalid filter: 'no_such_filter'"]
    assert "subject" not in errors


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% load i18n %}{% trans 'x' %}", "'i18n' is not a registered tag library"),
        ("{% include 'admin/base.html' %}", "The template fails to render: TemplateDoesNotExist"),
    ],
)
def test_templates_cannot_reach_beyond_their_payload(source, expected):
    with pytest.raises(ValidationError) as caught:
        Template(event_type=CONFIRMED, channel="sms", body_text=source).full_clean()
    assert expected in caught.value.message_dict["body_text"][0]


def test_the_admin_refuses_a_broken_template_with_its_line_and_saves_nothing(admin_client, templates):
    response = admin_client.post(
        reverse("admin:notifications_template_add"),
        {
            "event_type": CONFIRMED,
            "channel": "email",
            "locale": "fr",
            "subject": "Commande {{ order_number }}",
            "body_text": "Bonjour,\n{% for x in y %}\n",
            "body_html": "",
        },
    )
    assert response.status_code == 200
    assert "Line 2: Unclosed tag on line 2: &#x27;for&#x27;" in response.content.decode()
    assert not Template.objects.filter(locale="fr").exists()


def test_the_admin_previews_a_template_rendered_from_a_sample_payload(admin_client, templates):
    template = Template.objects.get(event_type=CONFIRMED, channel="email", locale="en")
    page = admin_client.get(
        reverse("admin:notifications_template_change", args=[template.pk])
    ).content.decode()
    assert "Order SO-10042 is confirmed" in page  # the subject, rendered
    assert "your payment of 49.90 EUR" in page
    assert "Hello Ada Lovelace," in page


def test_every_subscribed_event_ships_an_english_template_per_channel_that_renders(templates):
    subscribed = {s.event_type for s in registry.all_subscriptions() if s.context == "notifications"}
    assert len(subscribed) == 10
    for event_type in subscribed:
        for channel in ("email", "sms", "push"):
            template = Template.objects.get(event_type=event_type, channel=channel, locale="en")
            assert not rendering.template_errors(
                {
                    "subject": template.subject,
                    "body_text": template.body_text,
                    "body_html": template.body_html,
                },
                event_type=event_type,
            )
            rendered = rendering.render(
                subject=template.subject,
                body_text=template.body_text,
                body_html=template.body_html,
                context=rendering.sample_context(event_type),
            )
            assert rendered.body_text and "{" not in rendered.body_text, (event_type, channel)
            assert (channel == "email") == bool(rendered.body_html)


def test_the_locale_falls_back_to_its_language_then_to_english(templates):
    german = Template.objects.create(event_type=CONFIRMED, channel="sms", locale="de", body_text="Bestellung")
    assert selectors.template_for(event_type=CONFIRMED, channel="sms", locale="de-AT") == german
    assert selectors.template_for(event_type=CONFIRMED, channel="sms", locale="DE") == german
    english = selectors.template_for(event_type=CONFIRMED, channel="sms", locale="fr-CA")
    assert english.locale == "en"
    assert selectors.template_for(event_type="orders.Unknown.v1", channel="sms", locale="en") is None


def test_html_escapes_values_and_text_keeps_them_and_subjects_are_one_line():
    rendered = rendering.render(
        subject="Order {{ order_number }}",
        body_text="Reason: {{ reason }}",
        body_html="<p>{{ reason }}</p>",
        context={"order_number": "SO-1\r\nBcc: victim@example.com", "reason": "<script>x</script> & co"},
    )
    assert rendered.subject == "Order SO-1 Bcc: victim@example.com"
    assert rendered.body_text == "Reason: <script>x</script> & co"
    assert rendered.body_html == "<p>&lt;script&gt;x&lt;/script&gt; &amp; co</p>"


def test_only_an_email_has_an_html_body():
    with pytest.raises(ValidationError) as caught:
        Template(event_type=CONFIRMED, channel="push", body_text="x", body_html="<p>x</p>").full_clean()
    assert "body_html" in caught.value.message_dict
