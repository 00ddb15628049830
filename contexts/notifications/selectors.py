"""Queries of the notifications context: preferences (with their defaults), devices, templates, the log."""

import uuid

from django.db.models import QuerySet

from contexts.notifications.data import EMAIL, DeviceData, Preferences, QuietHours
from contexts.notifications.models import Device, Notification, Preference, Template
from contexts.notifications.rendering import locale_candidates
from contexts.users import api as users


def preferences_default(*, contact: users.UserContact) -> Preferences:
    """What a user who never set preferences gets: email for everything they consented to, no quiet
    hours, the account's language."""
    return Preferences(
        transactional=(EMAIL,),
        marketing=(EMAIL,) if contact.marketing_opt_in else (),
        quiet_hours=None,
        locale=contact.locale,
    )


def preferences_of(row: Preference) -> Preferences:
    quiet = None
    if row.quiet_start is not None and row.quiet_end is not None:
        quiet = QuietHours(start=row.quiet_start, end=row.quiet_end, timezone=row.timezone)
    return Preferences(
        transactional=tuple(row.channels.get("transactional", ())),
        marketing=tuple(row.channels.get("marketing", ())),
        quiet_hours=quiet,
        locale=row.locale,
    )


def preferences_get(*, user_id: uuid.UUID, contact: users.UserContact | None = None) -> Preferences:
    """The user's preferences, or their defaults (read from `contact`, fetched through users.api if
    not given: UserNotFound for an unknown user)."""
    row = Preference.objects.filter(user_id=user_id).first()
    if row is not None:
        return preferences_of(row)
    return preferences_default(contact=contact or users.user_contact(user_id=user_id))


def devices_for_user(*, user_id: uuid.UUID) -> QuerySet[Device]:
    return Device.objects.filter(user_id=user_id).order_by("-created_at", "id")


def device_data(device: Device) -> DeviceData:
    return DeviceData(
        id=device.id, token=device.token, platform=device.platform, created_at=device.created_at
    )


def notifications_for_user(*, user_id: uuid.UUID) -> QuerySet[Notification]:
    """The user's delivery log, newest first."""
    return Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id")


def template_for(*, event_type: str, channel: str, locale: str) -> Template | None:
    """The template for the locale, else its language, else English; None if there is none at all."""
    candidates = locale_candidates(locale)
    found = {
        t.locale: t
        for t in Template.objects.filter(event_type=event_type, channel=channel, locale__in=candidates)
    }
    return next((found[c] for c in candidates if c in found), None)
