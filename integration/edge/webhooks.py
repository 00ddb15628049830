"""The HTTP side of signed webhooks: a base view that refuses any delivery whose `Shop-Signature` does
not verify (integration.webhooks), before the context sees a byte of it.

    class PaymentWebhookView(SignedWebhookView):
        def secrets(self, provider): return webhooks.secret_list(settings.PAYMENTS_WEBHOOK_SECRET)
        def receive(self, provider, body): ...   # parse, dedupe by event id, act

A missing, malformed, stale or wrong signature is a 400 problem (`webhook-signature-invalid`, with
`reason`) and nothing is read further. The signature is the authentication: no token is asked for, and
none is looked at.
"""

from collections.abc import Sequence

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integration import webhooks
from integration.edge.problems import CONTENT_TYPE, problem
from integration.logging import get_logger

log = get_logger("integration.webhooks")


class SignedWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The senders this endpoint knows, by the URL's `provider` (e.g. {"sandbox"}); others are a 404.
    providers: Sequence[str] = ()

    def secrets(self, provider: str) -> Sequence[str]:
        raise NotImplementedError

    def receive(self, provider: str, body: bytes) -> dict:
        """Act on a verified delivery; returns the 200 answer's body."""
        raise NotImplementedError

    def post(self, request: Request, provider: str) -> Response:
        if provider not in self.providers:
            return Response(
                problem(404, detail=f"No webhook endpoint for {provider[:60]!r}."),
                status=404,
                content_type=CONTENT_TYPE,
            )
        body = request.body
        try:
            webhooks.verify(
                header=request.headers.get(webhooks.SIGNATURE_HEADER),
                body=body,
                secrets=self.secrets(provider),
            )
        except webhooks.SignatureInvalid as exc:
            log.warning("webhook.signature_invalid", provider=provider, reason=exc.reason)
            return Response(
                problem(
                    400,
                    slug="webhook-signature-invalid",
                    title="The webhook signature does not verify.",
                    detail=str(exc),
                    reason=exc.reason,
                ),
                status=400,
                content_type=CONTENT_TYPE,
            )
        return Response(self.receive(provider, body))
