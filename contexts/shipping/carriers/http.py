"""A carrier's REST API, reached through the resilient client (integration.resilience, dependency
"shipping-carrier": its base_url, timeouts, retries and breaker come from RESILIENCE_DEPENDENCIES).

The API it speaks (integration.resilience.stub.CarrierStub plays it in the tests):

    POST /shipments                 {"address": {...}, "lines": [{"sku", "quantity"}], "service_level"}
                                    201 {"id", "tracking_number", "estimated_delivery": "YYYY-MM-DD"|null}
    POST /shipments/<id>/cancel     200 (cancelled) or 409 {"code": "not_cancellable"}
    4xx refusals                    {"code": "address_rejected", "message": "..."}

Both POSTs carry our Idempotency-Key, so the client may repeat them after a dropped connection or a 503
and the carrier answers the repeat with the first result. Authentication is a bearer API key
(SHIPPING_HTTP_CARRIER_API_KEY). Webhooks arrive in the same body as the sandbox carrier's.
"""

import datetime as dt
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from contexts.shipping.carriers import (
    CarrierRejected,
    CarrierUnavailable,
    Label,
    TrackingUpdate,
    parse_tracking_update,
)
from contexts.shipping.models import TRACKING_NUMBER_LENGTH
from integration import resilience

DEPENDENCY = "shipping-carrier"


class HttpCarrier:
    @property
    def name(self) -> str:
        return settings.SHIPPING_HTTP_CARRIER_NAME

    def create_shipment(
        self, *, key: str, address: dict[str, str], lines: list[dict[str, Any]], service_level: str
    ) -> Label:
        body = {"address": address, "lines": lines, "service_level": service_level}
        response = self._post("/shipments", body, key)
        if response.status_code not in (200, 201):
            raise self._refusal(response)
        answer = self._json(response)
        try:
            reference, number = answer["id"], answer["tracking_number"]
            estimated = answer.get("estimated_delivery")
            if not (isinstance(reference, str) and 0 < len(reference) <= 100):
                raise ValueError("id")
            if not (isinstance(number, str) and 0 < len(number) <= TRACKING_NUMBER_LENGTH):
                raise ValueError("tracking_number")
            return Label(
                reference=reference,
                tracking_number=number,
                estimated_delivery=dt.date.fromisoformat(estimated) if estimated is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            # It may have bought the label and then garbled the answer: the keyed repeat settles it.
            raise CarrierUnavailable("malformed answer") from None

    def cancel_shipment(self, *, key: str, reference: str) -> None:
        response = self._post(f"/shipments/{quote(reference, safe='')}/cancel", None, key)
        if not 200 <= response.status_code < 300:
            raise self._refusal(response)

    def parse_webhook(self, data: Any) -> TrackingUpdate:
        return parse_tracking_update(data)

    # --- the wire ------------------------------------------------------------------------------------

    def _post(self, path: str, body: Any, key: str) -> httpx.Response:
        api_key = settings.SHIPPING_HTTP_CARRIER_API_KEY
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            return resilience.client(DEPENDENCY).post(path, json=body, headers=headers, idempotency_key=key)
        except resilience.DependencyUnavailable as exc:
            raise CarrierUnavailable(exc.reason) from exc

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return answer if isinstance(answer, dict) else {}

    def _refusal(self, response: httpx.Response) -> CarrierRejected:
        # 4xx (and an unexpected 3xx): the carrier understood and said no; repeating cannot help.
        answer = self._json(response)
        code = answer.get("code")
        message = answer.get("message")
        return CarrierRejected(
            code if isinstance(code, str) and code else f"http_{response.status_code}",
            message[:300] if isinstance(message, str) else "",
        )
