"""Use cases of the notifications context that write, by sub-domain; import them from here."""

from contexts.notifications.services.delivery import (
    SendOutcome,
    backoff_seconds,
    notification_send,
    notifications_resend,
    notifications_send_due,
    notify,
)
from contexts.notifications.services.preferences import (
    device_register,
    device_remove,
    preferences_set,
)

__all__ = [
    "SendOutcome",
    "backoff_seconds",
    "device_register",
    "device_remove",
    "notification_send",
    "notifications_resend",
    "notifications_send_due",
    "notify",
    "preferences_set",
]
