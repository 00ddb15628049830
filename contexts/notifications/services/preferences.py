"""Use cases that write a user's preferences and push devices."""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contexts.notifications.data import (
    CHANNELS,
    EMAIL,
    DeviceNotFound,
    Preferences,
    device_token_problem,
    language_tag_problem,
    timezone_names,
)
from contexts.notifications.models import Device, Preference


def _channel_errors(name: str, channels: tuple[str, ...]) -> list[str]:
    errors = []
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown:
        errors.append(f"Unknown channel(s): {', '.join(unknown)}; use {', '.join(CHANNELS)}.")
    if len(set(channels)) != len(channels):
        errors.append("List each channel at most once.")
    return errors


def preferences_set(*, user_id: uuid.UUID, preferences: Preferences) -> Preferences:
    """Replace the user's preferences. ValidationError (a 400) if transactional messages would not go
    by email (that cannot be switched off), a channel is unknown or repeated, the quiet hours name no
    IANA time zone or have no length, or the locale is no language tag (data.LANGUAGE_TAG)."""
    errors: dict[str, list[str]] = {}
    for name in ("transactional", "marketing"):
        found = _channel_errors(name, getattr(preferences, name))
        if found:
            errors[f"channels.{name}"] = found
    if EMAIL not in preferences.transactional:
        errors.setdefault("channels.transactional", []).append(
            'Transactional email cannot be switched off: the list must include "email".'
        )
    quiet = preferences.quiet_hours
    if quiet is not None:
        if quiet.timezone not in timezone_names():
            errors["quiet_hours.timezone"] = [
                f"{quiet.timezone!r} is not an IANA time zone such as Europe/Paris."
            ]
        if quiet.start == quiet.end:
            errors["quiet_hours.end"] = ["Quiet hours must end at another time than they start."]
    if problem := language_tag_problem(preferences.locale):
        errors["locale"] = [problem]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Preference.objects.update_or_create(
            user_id=user_id,
            defaults={
                "channels": {
                    "transactional": list(preferences.transactional),
                    "marketing": list(preferences.marketing),
                },
                "quiet_start": quiet.start if quiet else None,
                "quiet_end": quiet.end if quiet else None,
                "timezone": quiet.timezone if quiet else "",
                "locale": preferences.locale,
            },
        )
    return preferences


def device_register(*, user_id: uuid.UUID, token: str, platform: str) -> tuple[Device, bool]:
    """Register a push token for the user: (device, created). A token already registered to the user
    is returned as it is; one registered to someone else (a shared device, a new login) moves to this
    user, since a token addresses one app install and whoever uses it now (as FCM and APNs tokens do
    when a device changes hands). ValidationError for a token that is no push token
    (data.device_token_problem) or an unknown platform."""
    if problem := device_token_problem(token):
        raise ValidationError({"token": [problem]})
    if platform not in Device.Platform.values:
        raise ValidationError({"platform": [f"One of: {', '.join(Device.Platform.values)}."]})
    with transaction.atomic():
        # Claim the token (INSERT ... ON CONFLICT DO NOTHING), then lock whichever row holds it, so
        # concurrent registrations of one token take turns instead of colliding on its unique index.
        candidate = Device(user_id=user_id, token=token, platform=platform)
        Device.objects.bulk_create([candidate], ignore_conflicts=True)
        device = Device.objects.select_for_update().get(token=token)
        if device.id == candidate.id:
            return device, True
        if device.user_id == user_id:
            if device.platform != platform:  # the same install, now reporting another platform
                device.platform = platform
                device.save(update_fields=["platform"])
            return device, False
        # Another user's install changed hands: it moves, under a new id its previous user never saw.
        # (An UPDATE, not a delete and an insert: a registration waiting on this row's lock then finds
        # the row as it now stands, instead of none.)
        moved = {"id": candidate.id, "user_id": user_id, "platform": platform, "created_at": timezone.now()}
        Device.objects.filter(pk=device.pk).update(**moved)
        return Device.objects.get(pk=candidate.id), True


def device_remove(*, user_id: uuid.UUID, device_id: uuid.UUID | str) -> None:
    """Forget one of the user's devices; DeviceNotFound if it is not theirs (or not there)."""
    try:
        device_id = uuid.UUID(str(device_id))
    except ValueError:  # a malformed id names no device either
        raise DeviceNotFound("No device has this id.") from None
    deleted, _ = Device.objects.filter(id=device_id, user_id=user_id).delete()
    if not deleted:
        raise DeviceNotFound(f"No device {device_id}.")
