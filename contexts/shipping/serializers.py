"""Request parsing and response shapes of the shipping context's REST endpoints."""

from rest_framework import serializers

from contexts.shipping.carriers import WEBHOOK_TEXT_FIELDS
from contexts.shipping.lifecycle import TRACKING_STATUSES
from contexts.shipping.models import ServiceLevel, Status
from contexts.shipping.services import OUTCOMES
from integration.edge.address import AddressSerializer


class ShipmentQuerySerializer(serializers.Serializer):
    order_id = serializers.UUIDField(required=False, help_text="Only this order's shipments.")


class ShipmentLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()


class TrackingEventSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TRACKING_STATUSES)
    location = serializers.CharField(help_text="As the carrier wrote it; may be empty.")
    occurred_at = serializers.DateTimeField(help_text="When it happened (the timeline's order).")
    carrier_event_id = serializers.CharField()


class ShipmentSerializer(serializers.Serializer):
    """A shipment (rendered from contexts.shipping.data.ShipmentData), with its tracking timeline."""

    id = serializers.UUIDField()
    order_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Status.choices)
    carrier = serializers.CharField()
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices)
    tracking_number = serializers.CharField(help_text="Empty until the carrier has bought the label.")
    estimated_delivery = serializers.DateField(allow_null=True)
    address = AddressSerializer()
    lines = ShipmentLineSerializer(many=True)
    tracking_events = TrackingEventSerializer(many=True, help_text="Oldest first, by when each happened.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TrackingWebhookSerializer(serializers.Serializer):
    """A carrier's tracking update, as the sandbox carrier (and the HTTP adapter's carrier) sends it.
    For the schema only: the carrier's adapter reads the body (carriers.parse_tracking_update), with
    these same limits."""

    id = serializers.CharField(max_length=WEBHOOK_TEXT_FIELDS["id"], help_text="The carrier's event id.")
    tracking_number = serializers.CharField(max_length=WEBHOOK_TEXT_FIELDS["tracking_number"])
    status = serializers.ChoiceField(choices=TRACKING_STATUSES)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with its UTC offset.")
    location = serializers.CharField(
        max_length=WEBHOOK_TEXT_FIELDS["location"], required=False, allow_blank=True, default=""
    )


class WebhookReceiptSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=OUTCOMES,
        help_text="applied: the status moved; recorded: in the timeline only (late, or the status is "
        "already there or beyond); duplicate: this event id was delivered before; ignored: no shipment has "
        "this tracking number.",
    )
