"""The notifications context's DTOs, errors and the rules of preferences (quiet hours, time zones)."""

import datetime as dt
import functools
import re
import uuid
import zoneinfo
from dataclasses import dataclass

from integration.errors import ContextError, NotFound

EMAIL, SMS, PUSH = "email", "sms", "push"
CHANNELS = (EMAIL, SMS, PUSH)

# A language tag as browsers send it: "en", "de-AT", "pt-BR" (templates fall back to English). The
# one rule for the language of preferences and of templates.
LANGUAGE_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}"


def language_tag_problem(value: object) -> str | None:
    """Why `value` is not a language tag (LANGUAGE_TAG, at most 16 characters), or None if it is."""
    if isinstance(value, str) and len(value) <= 16 and re.fullmatch(LANGUAGE_TAG, value):
        return None
    return "A language tag such as en or pt-BR."


@functools.cache
def timezone_names() -> tuple[str, ...]:
    """The IANA time zone names quiet hours may be set in (sorted); the system's `localtime` link and
    tzdata's placeholder `Factory` are not zones a person lives in."""
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory", "posixrules"}))


DEVICE_TOKEN_LENGTH = 512
# Push services issue tokens of printable ASCII without spaces (FCM's are letters, digits and `_:-`,
# APNs' hexadecimal), and a token travels in a provider's request: no control character, nothing that
# could split a header or a log line.
DEVICE_TOKEN = f"[!-~]{{1,{DEVICE_TOKEN_LENGTH}}}"
DEVICE_TOKEN_RULE = f"A push token is 1-{DEVICE_TOKEN_LENGTH} printable ASCII characters without spaces."


def device_token_problem(value: object) -> str | None:
    """Why `value` is not a push token (DEVICE_TOKEN), or None if it is."""
    if isinstance(value, str) and re.fullmatch(DEVICE_TOKEN, value):
        return None
    return DEVICE_TOKEN_RULE


@dataclass(frozen=True, kw_only=True)
class QuietHours:
    """Local wall-clock times in an IANA zone; `start` after `end` spans midnight (22:00 to 07:00)."""

    start: dt.time
    end: dt.time
    timezone: str

    def end_of_quiet(self, now: dt.datetime) -> dt.datetime | None:
        """When the quiet hours that hold at `now` (aware) end, as an aware UTC instant; None if `now`
        is not within them. The end is the next `end` wall-clock time in the zone (a time that a DST
        change skips is read as the same clock time after the change; one it repeats, as the first
        of its two instants still to come)."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            quiet = self.start <= clock < self.end
            end_day = local.date()
        else:  # spans midnight
            quiet = clock >= self.start or clock < self.end
            end_day = local.date() + dt.timedelta(days=1) if clock >= self.start else local.date()
        if not quiet:
            return None
        # When clocks go back, the end's wall-clock time happens twice (fold 0 and 1): the quiet hours
        # end at the first of them still to come.
        ends = sorted(
            dt.datetime.combine(end_day, self.end, tzinfo=zone).replace(fold=fold).astimezone(dt.UTC)
            for fold in (0, 1)
        )
        later = [end for end in ends if end > now]
        return later[0] if later else None


@dataclass(frozen=True, kw_only=True)
class Preferences:
    """A user's choices: channels per category, quiet hours (or None) and the language of messages."""

    transactional: tuple[str, ...]
    marketing: tuple[str, ...]
    quiet_hours: QuietHours | None
    locale: str


@dataclass(frozen=True, kw_only=True)
class DeviceData:
    id: uuid.UUID
    token: str
    platform: str
    created_at: dt.datetime


class NotificationsError(ContextError):
    """Root of the notifications context's errors."""


class DeviceNotFound(NotificationsError, NotFound):
    code = "device-not-found"
    title = "No such device."
