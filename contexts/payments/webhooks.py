"""The payment provider's webhooks: POST /api/v1/payments/webhooks/<provider>/, signed with Shop-Signature.

Thin, like every view: the edge's base view refuses a delivery whose signature does not verify (400
`webhook-signature-invalid`, nothing read further); then the body is held to the edge's JSON rules like
any request body, the adapter reads the provider's event from it (a body that is not one: 400
`validation-error`; a type it does not handle: 200, ignored), and services_webhooks applies it.
"""

from collections.abc import Sequence

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from contexts.payments import services_webhooks
from contexts.payments.providers import provider as payment_provider
from integration import webhooks
from integration.edge.schema import ProblemSerializer
from integration.edge.webhooks import SignedWebhookView
from integration.logging import get_logger

log = get_logger(__name__)

# --- OpenAPI only: the body the adapter reads and the answer the view renders, as no serializer names --


def _text(max_length: int, help_text: str) -> serializers.CharField:
    # Taken as sent: the adapter does not trim, so blank text is text (only the empty string is refused).
    return serializers.CharField(max_length=max_length, trim_whitespace=False, help_text=help_text)


@extend_schema_field({"type": "string", "enum": list(services_webhooks.OUTCOMES)})
class _Outcome(serializers.CharField):
    pass


_EVENT = inline_serializer(
    "PaymentWebhookEvent",
    {
        "id": _text(200, "The provider's event id: a delivery is acted on once per id."),
        "type": _text(
            100,
            "The event type, e.g. `payment.captured`; a type the adapter does not handle "
            "is answered 200 and ignored.",
        ),
        "created": serializers.IntegerField(
            min_value=0, max_value=2**63 - 1, help_text="When it happened, unix seconds."
        ),
        "data": serializers.DictField(
            help_text="The charge: `reference`, `key`, `amount`, `currency`, `failure_code`, `message`."
        ),
    },
)
_ANSWER = OpenApiResponse(
    inline_serializer(
        "PaymentWebhookAnswer",
        {
            "outcome": _Outcome(
                help_text="applied: the payment moved; unchanged: it had reached that step or passed it; "
                "duplicate: this event id was handled before; ignored: an event type, or a payment, that "
                "is not ours to act on (logged)."
            )
        },
    ),
    description="Received. The provider need not send it again, whatever the outcome.",
)


class PaymentWebhookView(SignedWebhookView):
    """A provider's callback about a charge. The signature is the authentication: no token."""

    @property
    def providers(self) -> Sequence[str]:
        return (payment_provider().name,)

    def secrets(self, provider: str) -> Sequence[str]:
        return webhooks.secret_list(settings.PAYMENTS_WEBHOOK_SECRET)

    def receive(self, provider: str, body: bytes) -> dict:
        # The edge's rules for any JSON body (UTF-8, depth, 64-bit numbers, storable text), with its
        # problems; then the adapter reads its own format from the same bytes.
        self.request.data  # noqa: B018
        event = payment_provider().parse_webhook(body)
        if event is None:
            log.info("payments.webhook.unhandled_type", provider=provider)
            return {"outcome": services_webhooks.IGNORED}
        return {"outcome": services_webhooks.payment_webhook(provider=provider, event=event)}

    @extend_schema(
        operation_id="payments_webhook_receive",
        summary="Receive a payment provider's webhook",
        description="Called by the payment provider, not by storefront clients. Signed: `Shop-Signature: "
        't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with the provider\'s webhook secret '
        "(several `v1=` while a secret is rotated), at most 300 s from now. Idempotent by the event id.",
        request=_EVENT,
        parameters=[
            OpenApiParameter(
                "provider",
                str,
                OpenApiParameter.PATH,
                enum=[payment_provider().name],
                description="The payment provider's name; any other is 404.",
            ),
            OpenApiParameter(
                webhooks.SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="`t=<unix seconds>,v1=<hex HMAC-SHA256>`: see the operation's description.",
            ),
        ],
        responses={
            200: _ANSWER,
            400: OpenApiResponse(
                ProblemSerializer,
                description="`webhook-signature-invalid` (`reason`: missing, malformed, stale, mismatch, "
                "or unconfigured on our side): nothing was read or changed. `bad-request` or "
                "`validation-error` (`errors` names the fields): signed, but not JSON or not an event.",
            ),
        },
    )
    def post(self, request: Request, provider: str) -> Response:
        return super().post(request, provider)
