"""The default English templates: email, SMS and push for every event notifications subscribes to.

Rows an operator has already edited (same event type, channel and locale) are left as they are. The
wording lives here, frozen with the migration; later changes are made in the admin or by a new
migration.
"""

from django.db import migrations

HELLO = "Hello{% if customer.name %} {{ customer.name }}{% endif %},"
SIGN_OFF = "The Shop team"
TRACK = "Carrier: {{ carrier }}, tracking number {{ tracking_number }}."

# event type: (email subject, email paragraphs, SMS text, push title, push text)
MESSAGES = {
    "users.UserRegistered.v1": (
        "Welcome to the Shop",
        [
            "Your account {{ email }} is ready. You can now order, follow your parcels and manage your "
            "notifications from your account.",
        ],
        "Welcome to the Shop! Your account {{ email }} is ready.",
        "Welcome to the Shop",
        "Your account is ready.",
    ),
    "users.PasswordChanged.v1": (
        "Your password was changed",
        [
            "The password of your account was just changed, and every device was signed out.",
            "If this was not you, reset your password now and contact us.",
        ],
        "Shop: your password was changed and every device signed out. Not you? Contact us now.",
        "Password changed",
        "Your password was changed. Not you? Contact us now.",
    ),
    "users.LoggedOutEverywhere.v1": (
        "You were signed out everywhere",
        [
            "Every device signed in to your account was just signed out.",
            "If this was not you, change your password and contact us.",
        ],
        "Shop: every device was signed out of your account. Not you? Change your password.",
        "Signed out everywhere",
        "Every device was signed out of your account.",
    ),
    "orders.OrderConfirmed.v1": (
        "Order {{ order_number }} is confirmed",
        ["Thank you for your order {{ order_number }}. We have received your payment of {{ total }} {{ currency }} "
         "and will let you know when it ships."],
        "Shop: order {{ order_number }} is confirmed ({{ total }} {{ currency }}). We will tell you when it ships.",
        "Order confirmed",
        "Order {{ order_number }}: {{ total }} {{ currency }}.",
    ),
    "orders.OrderCancelled.v1": (
        "Order {{ order_number }} was cancelled",
        [
            "Your order {{ order_number }} was cancelled: {{ cancellation_reason }}",
            "Anything you paid ({{ total }} {{ currency }}) is returned to your payment method.",
        ],
        "Shop: order {{ order_number }} was cancelled: {{ cancellation_reason }}",
        "Order cancelled",
        "Order {{ order_number }} was cancelled.",
    ),
    "shipping.ShipmentInTransit.v1": (
        "Your parcel is on its way",
        ["Your parcel left us on {{ occurred_at|date:'j F Y' }}.", TRACK],
        "Shop: your parcel is on its way. {{ carrier }} tracking {{ tracking_number }}.",
        "Parcel on its way",
        "Tracking number {{ tracking_number }}.",
    ),
    "shipping.ShipmentOutForDelivery.v1": (
        "Your parcel arrives today",
        ["Your parcel is out for delivery and should arrive today.", TRACK],
        "Shop: your parcel is out for delivery today. Tracking {{ tracking_number }}.",
        "Arriving today",
        "Your parcel is out for delivery.",
    ),
    "shipping.ShipmentDelivered.v1": (
        "Your parcel was delivered",
        ["Your parcel was delivered on {{ occurred_at|date:'j F Y, H:i' }}. Enjoy!", TRACK],
        "Shop: your parcel was delivered. Enjoy!",
        "Delivered",
        "Your parcel was delivered.",
    ),
    "shipping.DeliveryFailed.v1": (
        "We could not deliver your parcel",
        [
            "The carrier could not deliver your parcel on {{ occurred_at|date:'j F Y' }}. They will try "
            "again or leave a notice with what to do next.",
            TRACK,
        ],
        "Shop: your parcel could not be delivered. {{ carrier }} tracking {{ tracking_number }}.",
        "Delivery failed",
        "Your parcel could not be delivered today.",
    ),
    "payments.PaymentRefunded.v1": (
        "Your refund of {{ amount }} {{ currency }}",
        [
            "We have refunded {{ amount }} {{ currency }} to your payment method. It can take a few days "
            "to show on your statement.",
            "{% if fully_refunded %}Your payment is now fully refunded.{% else %}Refunded so far: "
            "{{ refunded_total }} {{ currency }}.{% endif %}",
        ],
        "Shop: we refunded {{ amount }} {{ currency }} to your payment method.",
        "Refund on its way",
        "{{ amount }} {{ currency }} refunded.",
    ),
}


def _email(paragraphs: list[str]) -> tuple[str, str]:
    text = "\n\n".join([HELLO, *paragraphs, SIGN_OFF])
    html = "".join(f"<p>{p}</p>" for p in [HELLO, *paragraphs, SIGN_OFF])
    return text, html


def rows() -> list[dict]:
    """Every default template, as field values."""
    found = []
    for event_type, (subject, paragraphs, sms, push_title, push_body) in MESSAGES.items():
        text, html = _email(paragraphs)
        found += [
            {"event_type": event_type, "channel": "email", "subject": subject, "body_text": text, "body_html": html},
            {"event_type": event_type, "channel": "sms", "subject": "", "body_text": sms, "body_html": ""},
            {"event_type": event_type, "channel": "push", "subject": push_title, "body_text": push_body, "body_html": ""},
        ]
    return found


def seed(apps, schema_editor):
    Template = apps.get_model("notifications", "Template")
    for row in rows():
        Template.objects.get_or_create(
            event_type=row["event_type"], channel=row["channel"], locale="en", defaults=row
        )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
