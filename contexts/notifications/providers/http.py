"""HTTP adapters for SMS and push gateways, through the shared resilient client (integration.resilience:
timeouts, keyed retries, the fleet-wide breaker). Configure the dependencies "sms" and "push" in
RESILIENCE_DEPENDENCIES (`base_url`, timeouts, breaker).

The wire format is a gateway's plain JSON one; a provider with another shape gets a subclass that
overrides `payload()`:

    POST /v1/messages   {"to": "+4915...", "body": "..."}                 -> 2xx {"id": "..."}
    POST /v1/push       {"token": "...", "title": "...", "body": "..."}   -> 2xx {"id": "..."}

sent with `Idempotency-Key: <notification id>:send`. A 4xx answer is the provider refusing this
message (permanent); no answer, 429 or 5xx after the client's retries is transient.
"""

from typing import Any

from contexts.notifications.providers import SendFailed
from integration import resilience


class _HttpGateway:
    dependency = ""
    path = ""

    def _post(self, *, key: str, payload: dict[str, Any]) -> str:
        try:
            response = resilience.client(self.dependency).post(
                self.path, json=payload, idempotency_key=f"{key}:send"
            )
        except resilience.DependencyUnavailable as exc:
            raise SendFailed(f"{self.dependency}: {exc.detail}") from exc
        if response.status_code >= 400:
            raise SendFailed(
                f"{self.dependency} refused the message: {response.status_code} {response.text[:300]}",
                permanent=True,
            )
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            return ""


class HttpSms(_HttpGateway):
    name = "http"
    dependency = "sms"
    path = "/v1/messages"

    def payload(self, *, to: str, body: str) -> dict[str, Any]:
        return {"to": to, "body": body}

    def send_sms(self, *, key: str, to: str, body: str) -> str:
        return self._post(key=key, payload=self.payload(to=to, body=body))


class HttpPush(_HttpGateway):
    name = "http"
    dependency = "push"
    path = "/v1/push"

    def payload(self, *, token: str, title: str, body: str) -> dict[str, Any]:
        return {"token": token, "title": title, "body": body}

    def send_push(self, *, key: str, token: str, title: str, body: str) -> str:
        return self._post(key=key, payload=self.payload(token=token, title=title, body=body))
