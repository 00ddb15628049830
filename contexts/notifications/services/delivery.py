"""Use cases of the delivery log: plan an event's messages, send one, sweep the due ones, resend.

`notify` runs inside the handler's bus delivery (one transaction with the inbox record): it decides,
per channel the user chose, whether the message is queued, delayed by quiet hours or suppressed,
renders it, and writes one log row per (event, channel, recipient), which the database keeps unique.
Queued rows are handed to `notifications.send_notification` after commit; each send locks its row,
so a message is handed to its provider by one worker at a time and marked sent once.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contexts.notifications import rendering, selectors
from contexts.notifications.data import EMAIL, PUSH, SMS, Preferences
from contexts.notifications.models import Category, Device, Notification
from contexts.notifications.providers import SendFailed, mail, push_provider, sms_provider
from contexts.users import api as users
from integration.backoff import equal_jitter
from integration.bus.core import max_countdown
from integration.logging import get_logger
from integration.text import replace_unstorable

log = get_logger(__name__)

Status = Notification.Status

# Categories whose SMS or push falls back to email when it cannot reach the user. Their messages
# always go by email too (transactional email cannot be switched off), so the email carries them.
# Marketing never falls back: consent to offers by SMS is not consent to offers by email.
FALLBACK_TO_EMAIL = frozenset({Category.TRANSACTIONAL, Category.SECURITY})
# Quiet hours hold back SMS and push, never email, and never a security notice.
QUIET_CHANNELS = frozenset({SMS, PUSH})


def _conf(key: str) -> Any:
    return settings.NOTIFICATIONS[key]


def _enqueue(ids: list[uuid.UUID]) -> None:
    """Hand queued notifications to the workers once the current transaction commits."""
    if not ids:
        return
    from contexts.notifications import tasks  # the task module imports this one

    transaction.on_commit(lambda: [tasks.send_notification.delay(str(i)) for i in ids])


# --- planning -------------------------------------------------------------------------------------


def _channels(category: str, prefs: Preferences) -> tuple[str, ...]:
    return prefs.marketing if category == Category.MARKETING else prefs.transactional


def _suppressed_reason(category: str, contact: users.UserContact, channels: tuple[str, ...]) -> str:
    if not contact.is_active:
        return "the account is deactivated"
    if category == Category.MARKETING and not contact.marketing_opt_in:
        return "no marketing consent on the account"
    if not channels:
        return f"opted out of {category} messages"
    return ""


def notify(*, event: Any, event_id: uuid.UUID, event_type: str, user_id: uuid.UUID, category: str) -> int:
    """Log (and, after commit, send) the messages `event` means for user `user_id`: one per channel the
    user chose for `category` and recipient there. Returns the rows written (0 if this event was
    already logged for them: (event, channel, recipient) is unique). A user users.api does not know
    gets nothing."""
    try:
        contact = users.user_contact(user_id=user_id)
    except users.UserNotFound:
        log.warning("notification.no_such_user", user_id=str(user_id), event_type=event_type)
        return 0
    prefs = selectors.preferences_get(user_id=user_id, contact=contact)
    channels = _channels(category, prefs)
    base = {"event_id": event_id, "event_type": event_type, "category": category, "user_id": user_id}
    rows: list[Notification] = []

    suppressed = _suppressed_reason(category, contact, channels)
    if suppressed:
        for channel in channels or (EMAIL,):
            recipient = contact.email if channel == EMAIL else ""
            rows.append(
                Notification(
                    **base, channel=channel, recipient=recipient, status=Status.SUPPRESSED, reason=suppressed
                )
            )
        return _write(rows)

    tokens = list(
        Device.objects.filter(user_id=user_id).order_by("created_at").values_list("token", flat=True)
    )
    reach = {EMAIL: [contact.email], SMS: [contact.phone] if contact.phone else [], PUSH: tokens}
    falls_back = category in FALLBACK_TO_EMAIL and EMAIL in channels
    context = rendering.event_context(event, customer_name=contact.full_name, customer_email=contact.email)
    now = timezone.now()
    quiet_end = None
    if prefs.quiet_hours is not None and category != Category.SECURITY:
        quiet_end = prefs.quiet_hours.end_of_quiet(now)

    for channel in channels:
        if not reach[channel]:
            missing = "no phone number" if channel == SMS else "no device registered for push"
            if falls_back:
                reason = f"{missing}: the message goes by email instead"
                log.info(
                    "notification.fallback",
                    event_type=event_type,
                    user_id=str(user_id),
                    channel=channel,
                    to=EMAIL,
                    reason=missing,
                )
            else:
                reason = f"{missing}; {category} messages do not fall back to email"
            rows.append(
                Notification(**base, channel=channel, recipient="", status=Status.SUPPRESSED, reason=reason)
            )
            continue
        template = selectors.template_for(event_type=event_type, channel=channel, locale=prefs.locale)
        for recipient in reach[channel]:
            row = Notification(
                **base, channel=channel, recipient=recipient, template=template, next_attempt_at=now
            )
            if template is None:
                row.status, row.reason = (
                    Status.FAILED,
                    f"no {channel} template for {event_type} (nor in English)",
                )
            else:
                try:
                    _render_into(row, template, context=context, prefs=prefs)
                except Exception as exc:  # saved before today's checks, or a value its filters refuse
                    # This row fails, with nothing rendered kept; the event's other rows are logged.
                    reason = replace_unstorable(f"the template fails to render: {exc}")[:1000]
                    row.status, row.reason = Status.FAILED, reason
                    log.warning(
                        "notification.render_failed",
                        template_id=template.pk,
                        channel=channel,
                        reason=reason,
                        exc_info=not isinstance(exc, rendering.RenderRefused),
                    )
                else:
                    if channel in QUIET_CHANNELS and quiet_end is not None:
                        row.status, row.next_attempt_at = Status.DELAYED, quiet_end
                        row.reason = f"quiet hours until {quiet_end:%Y-%m-%d %H:%M} UTC"
            rows.append(row)
    return _write(rows)


def _render_into(row: Notification, template, *, context: dict, prefs: Preferences) -> None:
    time_zone = prefs.quiet_hours.timezone if prefs.quiet_hours else ""
    rendered = rendering.render(
        subject=template.subject,
        body_text=template.body_text,
        body_html=template.body_html if row.channel == EMAIL else "",
        context=context,
        locale=template.locale,
        time_zone=time_zone,
    )
    row.locale = template.locale
    row.subject, row.body_text, row.body_html = rendered.subject, rendered.body_text, rendered.body_html


def _write(rows: list[Notification]) -> int:
    """Insert the rows the log does not have yet; send the queued ones after commit."""
    if not rows:
        return 0
    ids = {row.id for row in rows}
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    # ignore_conflicts reports nothing back: the rows that now exist under these ids are ours.
    written = list(Notification.objects.filter(id__in=ids).values_list("id", "status"))
    _enqueue([i for i, status in written if status == Status.QUEUED])
    return len(written)


# --- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry_in: float | None = None  # seconds until the next attempt, if one is due


def _handover(n: Notification) -> str:
    """Hand one message to its channel's provider; the provider's id of it."""
    key = str(n.id)
    if n.channel == EMAIL:
        return mail.send_email(
            key=key, to=n.recipient, subject=n.subject, body_text=n.body_text, body_html=n.body_html
        )
    if n.channel == SMS:
        return sms_provider().send_sms(key=key, to=n.recipient, body=n.body_text)
    return push_provider().send_push(key=key, token=n.recipient, title=n.subject, body=n.body_text)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with equal jitter (integration.backoff), below the broker's countdown limit."""
    cap = min(_conf("BACKOFF_MAX_SECONDS"), max_countdown())
    return equal_jitter(attempt=attempts, base=_conf("BACKOFF_BASE_SECONDS"), cap=cap)


def notification_send(*, notification_id: uuid.UUID) -> SendOutcome:
    """Send a queued notification once. The row stays locked while its provider is called, so two
    workers never hand it over together; anything but a queued row is left alone. A failure is
    retried with backoff up to NOTIFICATIONS["MAX_ATTEMPTS"], then the row is `failed`."""
    with transaction.atomic():
        n = Notification.objects.select_for_update().filter(id=notification_id).first()
        if n is None or n.status != Status.QUEUED:
            return SendOutcome(n.status if n else "missing")
        n.attempts += 1
        now = timezone.now()
        retry_in = None
        try:
            n.provider_id = _handover(n)[:255]
        except Exception as exc:
            permanent = isinstance(exc, SendFailed) and exc.permanent
            n.last_error = (exc.reason if isinstance(exc, SendFailed) else f"{type(exc).__name__}: {exc}")[
                :4000
            ]
            if permanent or n.attempts >= _conf("MAX_ATTEMPTS"):
                n.status, n.next_attempt_at = Status.FAILED, None
                n.reason = _failure_reason(n, permanent=permanent)
            else:
                retry_in = backoff_seconds(n.attempts)
                n.next_attempt_at = now + dt.timedelta(seconds=retry_in)
            log.warning(
                "notification.send_failed",
                notification_id=str(n.id),
                channel=n.channel,
                attempts=n.attempts,
                status=n.status,
                error=n.last_error,
                exc_info=not isinstance(exc, SendFailed),
            )
        else:
            n.status, n.sent_at, n.next_attempt_at, n.last_error = Status.SENT, now, None, ""
        n.save(
            update_fields=[
                "status",
                "attempts",
                "provider_id",
                "last_error",
                "reason",
                "next_attempt_at",
                "sent_at",
                "updated_at",
            ]
        )
    return SendOutcome(n.status, retry_in)


def _failure_reason(n: Notification, *, permanent: bool) -> str:
    why = "the provider refused it" if permanent else f"gave up after {n.attempts} attempts"
    if n.channel == EMAIL:
        return why
    if n.category not in FALLBACK_TO_EMAIL:
        return f"{why}; {n.category} messages do not fall back to email"
    emailed = Notification.objects.filter(event_id=n.event_id, user_id=n.user_id, channel=EMAIL).exclude(
        status__in=(Status.SUPPRESSED, Status.FAILED)
    )
    if emailed.exists():
        log.info("notification.fallback", notification_id=str(n.id), channel=n.channel, to=EMAIL, reason=why)
        return f"{why}: the message goes by email instead"
    return f"{why}; no email carries it either"


def notifications_send_due(*, batch: int = 500) -> int:
    """Beat: queue delayed messages whose quiet hours are over, and queued ones whose task was lost
    (due more than NOTIFICATIONS["STALE_SECONDS"] ago), and send them. Rows are claimed with
    SELECT ... FOR UPDATE SKIP LOCKED, so several sweepers never take the same one. Returns how many."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=_conf("STALE_SECONDS"))
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=Status.DELAYED, next_attempt_at__lte=now)
                | Q(status=Status.QUEUED, next_attempt_at__lte=stale)
            )
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:batch]
        )
        Notification.objects.filter(id__in=due).update(
            status=Status.QUEUED, next_attempt_at=now, updated_at=now
        )
        _enqueue(due)
    if due:
        log.info("notification.swept", notifications=len(due))
    return len(due)


def notifications_resend(*, notification_ids: list[uuid.UUID]) -> int:
    """An operator sends failed messages again, with a fresh set of attempts. Only failed rows that
    were rendered are taken (one whose template was missing has nothing to send). Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update()
            .filter(id__in=notification_ids, status=Status.FAILED)
            .exclude(body_text="")
            .order_by("id")
            .values_list("id", flat=True)
        )
        Notification.objects.filter(id__in=ids).update(
            status=Status.QUEUED,
            attempts=0,
            next_attempt_at=now,
            last_error="",
            reason="resent by an operator",
            updated_at=now,
        )
        _enqueue(ids)
    return len(ids)
