"""Tables of the notifications context. Other contexts' things are referenced by id, never by ForeignKey.

Templates (per event type, channel and locale), each user's preferences and push devices, the
delivery log (one row per message to one recipient over one channel) and what the sandbox providers
would have sent.
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contexts.notifications.data import DEVICE_TOKEN_LENGTH, language_tag_problem

# The delivery log's subject column: a rendered subject longer than this is cut (rendering.render).
SUBJECT_MAX_LENGTH = 1000


class Channel(models.TextChoices):
    EMAIL = "email", "email"
    SMS = "sms", "SMS"
    PUSH = "push", "push"


class Category(models.TextChoices):
    """Why a message is sent, which decides who may switch it off and when it may wait.

    transactional: about something the customer did (an order, a shipment, a refund); email always.
    security: about the account's safety (password changed, logged out everywhere); like transactional,
    and never held back by quiet hours. marketing: only with the account's consent, on the channels
    the customer chose for it.
    """

    TRANSACTIONAL = "transactional", "transactional"
    SECURITY = "security", "security"
    MARKETING = "marketing", "marketing"


class Template(models.Model):
    """One message's wording: Django template syntax, rendered with the event's fields and `customer`.

    `subject` is the email subject or the push title (unused for SMS); `body_text` the plain text of
    an email, or the whole SMS or push body; `body_html` the HTML alternative of an email (optional).
    A template with a syntax error is refused by clean(), with the line number.
    """

    event_type = models.CharField(max_length=200, help_text='e.g. "orders.OrderConfirmed.v1"')
    channel = models.CharField(max_length=8, choices=Channel.choices)
    locale = models.CharField(
        max_length=16,
        default="en",
        help_text='A language tag such as "en" or "pt-br"; English is the fallback.',
    )
    subject = models.CharField(max_length=500, blank=True)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, help_text="Email only: the HTML alternative.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event_type", "channel", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_type", "channel", "locale"], name="template_once_per_locale"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} · {self.channel} · {self.locale}"

    def clean(self) -> None:
        from contexts.notifications import rendering

        self.locale = rendering.normal_locale(self.locale)
        errors = {}
        if problem := language_tag_problem(self.locale):
            errors["locale"] = problem
        if self.channel != Channel.EMAIL and self.body_html:
            errors["body_html"] = "Only an email has an HTML body."
        else:
            errors.update(
                rendering.template_errors(
                    {"subject": self.subject, "body_text": self.body_text, "body_html": self.body_html},
                    event_type=self.event_type,
                )
            )
        if errors:
            raise ValidationError(errors)


class Preference(models.Model):
    """A user's choices; without a row, the defaults in selectors.preferences_get apply.

    `channels` is {"transactional": [...], "marketing": [...]}; quiet hours are local wall-clock times
    in `timezone` (an IANA name), all three set or none.
    """

    user_id = models.UUIDField(primary_key=True)
    channels = models.JSONField()
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    locale = models.CharField(max_length=16)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(quiet_start__isnull=True, quiet_end__isnull=True, timezone="")
                    | (Q(quiet_start__isnull=False, quiet_end__isnull=False) & ~Q(timezone=""))
                ),
                name="preference_quiet_hours_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class Device(models.Model):
    """A push token of one app install. A token belongs to whoever registered it last (it addresses the
    install, not a person: a device that changes hands registers under its new user)."""

    class Platform(models.TextChoices):
        IOS = "ios", "iOS"
        ANDROID = "android", "Android"
        WEB = "web", "web"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(db_index=True)
    token = models.CharField(max_length=DEVICE_TOKEN_LENGTH, unique=True)
    platform = models.CharField(max_length=8, choices=Platform.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.platform} device of {self.user_id}"


class Notification(models.Model):
    """The delivery log: one message of one event to one recipient over one channel, sent at most once.

    `recipient` is the email address, the E.164 phone number or the device token ("" when the user
    could not be reached on the channel). `next_attempt_at` is when a delayed message's quiet hours
    end, or when a queued one is next due. `reason` says in words why a message was suppressed,
    delayed, failed or went to email instead.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        SUPPRESSED = "suppressed", "suppressed"
        DELAYED = "delayed", "delayed (quiet hours)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=200)
    category = models.CharField(max_length=16, choices=Category.choices)
    user_id = models.UUIDField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=512, blank=True)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    locale = models.CharField(max_length=16, blank=True)
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    provider_id = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "channel", "recipient"], name="notification_once_per_recipient"
            ),
        ]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="notification_user_idx"),
            # The sweep's lookup: messages waiting for their time (quiet hours, a retry).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["queued", "delayed"]),
                name="notification_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.channel} {self.recipient or '(unreachable)'} ({self.status})"


class SandboxMessage(models.Model):
    """What the sandbox SMS and push providers would have sent: one row per idempotency key."""

    key = models.CharField(max_length=255, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=512)
    title = models.CharField(max_length=1000, blank=True)
    body = models.TextField()
    provider_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"
