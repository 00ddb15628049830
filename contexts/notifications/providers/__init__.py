"""The provider ports: how a message leaves. Email goes through Django's email backend (`email`); SMS
and push through the adapters the settings name (NOTIFICATIONS["SMS_PROVIDER"] / ["PUSH_PROVIDER"],
dotted paths; the in-process sandboxes by default, the HTTP adapters in `http`).

Every send carries an idempotency key, the notification's id, so a provider that dedupes by key never
delivers a retried message twice. An adapter returns the provider's id of the message, or raises
SendFailed: `permanent` when retrying cannot help (the provider refused this recipient), otherwise
the send is retried with backoff.
"""

import functools
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SendFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class SmsProvider(Protocol):
    name: str

    def send_sms(self, *, key: str, to: str, body: str) -> str:
        """Send `body` to the E.164 number `to`; the provider's message id."""
        ...


class PushProvider(Protocol):
    name: str

    def send_push(self, *, key: str, token: str, title: str, body: str) -> str:
        """Send a notification to the device `token`; the provider's message id."""
        ...


@functools.cache
def _load(path: str):
    return import_string(path)()


def sms_provider() -> SmsProvider:
    """The adapter NOTIFICATIONS["SMS_PROVIDER"] names (one instance per process)."""
    return _load(settings.NOTIFICATIONS["SMS_PROVIDER"])


def push_provider() -> PushProvider:
    """The adapter NOTIFICATIONS["PUSH_PROVIDER"] names (one instance per process)."""
    return _load(settings.NOTIFICATIONS["PUSH_PROVIDER"])
