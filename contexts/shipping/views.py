"""REST endpoints of the shipping context: thin — parse, call a selector or service, render.

A customer sees only their own shipments, staff included (operators use the admin): another user's
shipment is a 404, like one that does not exist. Carriers' tracking webhooks are authenticated by their
Shop-Signature alone (integration.edge.webhooks).
"""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.shipping import carriers, selectors, services
from contexts.shipping.serializers import (
    ShipmentQuerySerializer,
    ShipmentSerializer,
    TrackingWebhookSerializer,
    WebhookReceiptSerializer,
)
from integration import webhooks
from integration.edge.schema import PROBLEMS, ProblemSerializer
from integration.edge.webhooks import SignedWebhookView


class ShipmentListApi(GenericAPIView):
    """The caller's shipments, newest first, each with its tracking timeline."""

    serializer_class = ShipmentSerializer

    @extend_schema(operation_id="shipments_list", parameters=[ShipmentQuerySerializer])
    def get(self, request):
        query = ShipmentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        shipments = selectors.shipments_of_user(
            user_id=request.user.id, order_id=query.validated_data.get("order_id")
        )
        page = self.paginate_queryset(shipments)
        data = [selectors.shipment_data(shipment) for shipment in page]
        return self.get_paginated_response(ShipmentSerializer(data, many=True).data)


class ShipmentDetailApi(APIView):
    """One of the caller's shipments, with its tracking timeline."""

    @extend_schema(
        operation_id="shipments_retrieve",
        responses={200: ShipmentSerializer},
        parameters=[OpenApiParameter("shipment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    def get(self, request, shipment_id: str):
        shipment = selectors.shipment_of_user(shipment_id=shipment_id, user_id=request.user.id)
        return Response(ShipmentSerializer(selectors.shipment_data(shipment)).data)


class ShippingWebhookApi(SignedWebhookView):
    """A carrier's tracking update. Idempotent by the carrier's event id; tolerant of disorder (a late
    update joins the timeline at its time, the status never goes back); an unknown tracking number is
    answered 200 and logged."""

    @property
    def providers(self) -> list[str]:
        return [carriers.carrier().name]

    def secrets(self, provider: str) -> tuple[str, ...]:
        return webhooks.secret_list(settings.SHIPPING_WEBHOOK_SECRET)

    def receive(self, provider: str, body: bytes) -> dict:
        update = carriers.carrier().parse_webhook(self.request.data)
        return {"outcome": services.tracking_update_receive(carrier_name=provider, update=update)}

    @extend_schema(
        operation_id="shipping_webhook",
        request=TrackingWebhookSerializer,
        responses={
            200: WebhookReceiptSerializer,
            400: OpenApiResponse(
                ProblemSerializer,
                description=PROBLEMS[400][1] + " `webhook-signature-invalid` (with `reason`: missing, "
                "malformed, stale, mismatch) when the Shop-Signature does not prove the carrier sent it.",
            ),
        },
        parameters=[
            OpenApiParameter(
                "carrier",
                str,
                OpenApiParameter.PATH,
                enum=[carriers.carrier().name],
                description="The carrier's name (SHIPPING_CARRIER's adapter).",
            ),
            OpenApiParameter(
                webhooks.SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description='`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with '
                "SHIPPING_WEBHOOK_SECRET; at most 300 s from the server's clock.",
            ),
        ],
    )
    def post(self, request, carrier: str):
        # The raw bytes are what is signed: read them before the parser consumes the stream. Then the
        # edge's JSON parser refuses a hostile body first, as it does on every endpoint.
        _ = request.body, request.data
        return super().post(request, carrier)
