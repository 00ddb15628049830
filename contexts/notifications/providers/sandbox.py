"""The sandbox SMS and push providers: they send nothing and record what they would have sent
(SandboxMessage, one row per idempotency key, in the sender's transaction).

For trying the failure paths, two SMS numbers misbehave, as a real provider's test numbers do:

    +15005550001    refused: an invalid number (a permanent failure)
    +15005550009    the provider is down, every time (a transient failure, retried until given up)
"""

import secrets

from contexts.notifications.models import Channel, SandboxMessage
from contexts.notifications.providers import SendFailed

REFUSED_NUMBER = "+15005550001"
FAILING_NUMBER = "+15005550009"


def _record(*, key: str, channel: str, to: str, title: str, body: str) -> str:
    message, _ = SandboxMessage.objects.get_or_create(
        key=key,
        defaults={
            "channel": channel,
            "to": to,
            "title": title,
            "body": body,
            "provider_id": f"sbx_{channel}_{secrets.token_hex(8)}",
        },
    )
    return message.provider_id


class SandboxSms:
    name = "sandbox"

    def send_sms(self, *, key: str, to: str, body: str) -> str:
        if to == REFUSED_NUMBER:
            raise SendFailed("sandbox: invalid number", permanent=True)
        if to == FAILING_NUMBER:
            raise SendFailed("sandbox: provider unavailable")
        return _record(key=key, channel=Channel.SMS, to=to, title="", body=body)


class SandboxPush:
    name = "sandbox"

    def send_push(self, *, key: str, token: str, title: str, body: str) -> str:
        return _record(key=key, channel=Channel.PUSH, to=token, title=title, body=body)
