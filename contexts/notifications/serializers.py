"""Request parsing and response shapes of the notifications API. Times of day are "HH:MM"."""

import datetime as dt

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contexts.notifications.data import (
    CHANNELS,
    DEVICE_TOKEN,
    DEVICE_TOKEN_LENGTH,
    DEVICE_TOKEN_RULE,
    LANGUAGE_TAG,
    Preferences,
    QuietHours,
    timezone_names,
)
from contexts.notifications.models import Device

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(CHANNELS)},
        "uniqueItems": True,
        "maxItems": len(CHANNELS),
    }
)
class ChannelListField(serializers.ListField):
    """Channels, each at most once."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=CHANNELS), max_length=len(CHANNELS), **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(set(value)) != len(value):
            raise serializers.ValidationError("List each channel at most once.")
        return value


class NotificationChannelsSerializer(serializers.Serializer):
    transactional = ChannelListField(
        help_text='Must include "email": transactional email cannot be switched off.'
    )
    marketing = ChannelListField(help_text="Empty: no marketing at all.")


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.RegexField(HHMM, help_text="Local time of day, HH:MM.")
    end = serializers.RegexField(HHMM, help_text="Local time of day, HH:MM; before start spans midnight.")
    timezone = serializers.ChoiceField(choices=timezone_names(), help_text="An IANA time zone name.")


class NotificationPreferencesSerializer(serializers.Serializer):
    """GET and PUT /notifications/preferences/: the whole set, replaced whole."""

    channels = NotificationChannelsSerializer()
    quiet_hours = QuietHoursSerializer(
        allow_null=True, help_text="SMS and push wait until they end; email and security notices never do."
    )
    locale = serializers.RegexField(
        f"^{LANGUAGE_TAG}$", max_length=16, help_text="The language of messages, e.g. en, de-AT."
    )

    def preferences(self) -> Preferences:
        data = self.validated_data
        quiet = data["quiet_hours"]
        return Preferences(
            transactional=tuple(data["channels"]["transactional"]),
            marketing=tuple(data["channels"]["marketing"]),
            quiet_hours=None
            if quiet is None
            else QuietHours(
                start=dt.time.fromisoformat(quiet["start"]),
                end=dt.time.fromisoformat(quiet["end"]),
                timezone=quiet["timezone"],
            ),
            locale=data["locale"],
        )

    @staticmethod
    def render(preferences: Preferences) -> dict:
        quiet = preferences.quiet_hours
        return {
            "channels": {
                "transactional": list(preferences.transactional),
                "marketing": list(preferences.marketing),
            },
            "quiet_hours": None
            if quiet is None
            else {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}", "timezone": quiet.timezone},
            "locale": preferences.locale,
        }


class DeviceRegisterSerializer(serializers.Serializer):
    token = serializers.RegexField(
        f"^{DEVICE_TOKEN}$",
        max_length=DEVICE_TOKEN_LENGTH,
        error_messages={"invalid": DEVICE_TOKEN_RULE},
        help_text="The push token the platform gave this app install: printable ASCII, no spaces.",
    )
    platform = serializers.ChoiceField(choices=Device.Platform.choices)


class DeviceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    token = serializers.CharField()
    platform = serializers.CharField()
    created_at = serializers.DateTimeField()


class NotificationSerializer(serializers.Serializer):
    """A message of the caller's delivery log."""

    id = serializers.UUIDField()
    event_type = serializers.CharField(help_text='What it is about, e.g. "orders.OrderConfirmed.v1".')
    category = serializers.CharField(help_text="transactional, security or marketing")
    channel = serializers.CharField(help_text="email, sms or push")
    recipient = serializers.CharField(help_text="The address, number or device token; empty if unreachable.")
    subject = serializers.CharField()
    body = serializers.CharField(source="body_text")
    status = serializers.CharField(help_text="queued, sent, failed, suppressed or delayed")
    reason = serializers.CharField(help_text="Why it was suppressed, delayed or failed, if it was.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
