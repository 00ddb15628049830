"""Tables of the shipping context. Other contexts' things are referenced by id, never by ForeignKey.

A shipment keeps a snapshot of where it goes and what it carries: the order and the customer's address
may change later, the parcel does not. Its tracking events are the timeline, one row per carrier scan
(or operator entry), unique per carrier event id. Status values and quantities are CHECK constraints.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from integration.text import StorableJSONDecoder

KEY_LENGTH = 200
CARRIER_LENGTH = 40
TRACKING_NUMBER_LENGTH = 40
EVENT_ID_LENGTH = 200
LOCATION_LENGTH = 200
ACTOR_LENGTH = 200
CARRIER_CODE_LENGTH = 100
REFUSAL_MESSAGE_LENGTH = 300


class Status(models.TextChoices):
    """A shipment's status; which may follow which is the table in contexts.shipping.lifecycle."""

    CREATED = "created"  # recorded; the carrier has not (yet, or not knowingly) bought its label
    LABEL_PURCHASED = "label_purchased"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED_DELIVERY = "failed_delivery"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class ServiceLevel(models.TextChoices):
    STANDARD = "standard"
    EXPRESS = "express"


class Shipment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The create call's idempotency key: one shipment per key, whoever calls and however often.
    key = models.CharField(max_length=KEY_LENGTH, unique=True)
    order_id = models.UUIDField(db_index=True)
    user_id = models.UUIDField()
    # {full_name, line1, line2, city, region, postal_code, country, phone}: the users context's shape.
    address = models.JSONField(decoder=StorableJSONDecoder)
    carrier = models.CharField(max_length=CARRIER_LENGTH)
    service_level = models.CharField(
        max_length=20, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    carrier_reference = models.CharField(max_length=100, blank=True)  # the carrier's id of the shipment
    tracking_number = models.CharField(max_length=TRACKING_NUMBER_LENGTH, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    # The key of the cancel that succeeded: a key names one request, so it cannot cancel another shipment.
    cancel_key = models.CharField(max_length=KEY_LENGTH, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="shipping_shipment_status_valid"
            ),
            # Webhooks find their shipment by (carrier, tracking number).
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="shipping_shipment_tracking_number_uniq",
            ),
        ]
        indexes = [
            # A customer's shipments, newest first (GET /shipments/).
            models.Index(fields=["user_id", "-created_at", "-id"], name="shipping_shipment_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number or self.id} ({self.status})"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipping_line_quantity_gt_0"),
            models.UniqueConstraint(fields=["shipment", "sku"], name="shipping_line_shipment_sku_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class TrackingEvent(models.Model):
    """One entry of a shipment's timeline, ordered by when it happened (not when it was received)."""

    class Source(models.TextChoices):
        CARRIER = "carrier"  # a tracking webhook
        STAFF = "staff"  # entered by an operator in the admin

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    carrier = models.CharField(max_length=CARRIER_LENGTH)
    event_id = models.CharField(max_length=EVENT_ID_LENGTH)  # the carrier's id of the scan
    status = models.CharField(max_length=20, choices=Status.choices)
    location = models.CharField(max_length=LOCATION_LENGTH, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CARRIER)
    actor = models.CharField(max_length=ACTOR_LENGTH, blank=True)  # who entered it, for staff entries
    received_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "event_id"], name="shipping_event_carrier_event_uniq"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="shipping_event_status_valid"),
        ]
        indexes = [models.Index(fields=["shipment", "occurred_at"], name="shipping_event_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.status} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ShipmentRefusal(models.Model):
    """A create request the carrier refused, kept under its key instead of a shipment: the key goes on
    naming that request, so the same request gets the same refusal again (without asking the carrier)
    and another request under the key is a ShipmentKeyConflict, as a declined payment stays under its
    key. A key is in this table or in Shipment, never both."""

    key = models.CharField(max_length=KEY_LENGTH, unique=True)
    order_id = models.UUIDField(db_index=True)
    user_id = models.UUIDField()
    address = models.JSONField(decoder=StorableJSONDecoder)  # as a shipment's
    lines = models.JSONField()  # [[sku, quantity], ...] in the request's order
    service_level = models.CharField(max_length=20, choices=ServiceLevel.choices)
    carrier = models.CharField(max_length=CARRIER_LENGTH)
    carrier_code = models.CharField(max_length=CARRIER_CODE_LENGTH)  # e.g. "address_rejected"
    message = models.CharField(max_length=REFUSAL_MESSAGE_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} refused ({self.carrier_code})"
