"""Email through Django's email backend (EMAIL_BACKEND: SMTP in production, the console by default).

The notification's id becomes the Message-ID, so a receiving system can tell a resent message from a
new one. SMTP refusing the recipient, or a malformed header, cannot be helped by retrying; a
connection that fails or drops can.
"""

import smtplib

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives

from contexts.notifications.providers import SendFailed

PERMANENT = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, BadHeaderError)


def message_id(key: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<{key}@{domain}>"


def send_email(*, key: str, to: str, subject: str, body_text: str, body_html: str = "") -> str:
    """Send one email; its Message-ID. SendFailed (permanent or not) if it could not be handed over."""
    if not to or not to.strip():
        raise SendFailed("The recipient has no email address.", permanent=True)
    mid = message_id(key)
    message = EmailMultiAlternatives(subject=subject, body=body_text, to=[to], headers={"Message-ID": mid})
    if body_html:
        message.attach_alternative(body_html, "text/html")
    try:
        handed_over = message.send(fail_silently=False)
    except PERMANENT as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
    if not handed_over:  # the backend sent nothing (no recipient it would take): not "sent"
        raise SendFailed("The email backend accepted no recipient.", permanent=True)
    return mid
