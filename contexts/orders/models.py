"""Tables of the orders context. Other contexts' things are referenced by id, never by ForeignKey.

Carts and their lines; orders with their priced lines (a snapshot of the server's prices at checkout)
and their timeline of status changes; the order saga's persisted state (one saga per order, each step's
status, attempts and last error) and the operators' actions on it.
"""

import uuid

from django.db import models
from django.db.models import Q

MAX_LINE_QUANTITY = 100
# The catalog reserves at most 100 SKUs at once; a cart never holds more than one reservation can.
MAX_CART_LINES = 100


class Cart(models.Model):
    """A customer's one cart (unique per user)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cart of {self.user_id}"


class CartItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="orders_cartitem_one_line_per_sku"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY),
                name="orders_cartitem_quantity_1_100",
            ),
        ]
        ordering = ["added_at", "sku"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        READY_TO_SHIP = "ready_to_ship"
        SHIPPED = "shipped"
        DELIVERED = "delivered"
        CANCELLED = "cancelled"
        NEEDS_ATTENTION = "needs_attention"

    class CancellationReason(models.TextChoices):
        NONE = ""
        PAYMENT_DECLINED = "payment_declined"
        OUT_OF_STOCK = "out_of_stock"
        ADDRESS_REJECTED = "address_rejected"
        TIMEOUT = "timeout"
        CUSTOMER_REQUEST = "customer_request"
        PROVIDER_UNAVAILABLE = "provider_unavailable"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20, unique=True)
    user_id = models.UUIDField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    cancellation_reason = models.CharField(max_length=30, choices=CancellationReason.choices, blank=True)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    shipping_address = models.JSONField()
    payment_method = models.CharField(max_length=100)
    # "<user_id>:<Idempotency-Key>": a checkout re-run after a crash finds its order, never makes a second.
    checkout_key = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user_id", "-created_at", "-id"], name="orders_order_user_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(status="cancelled") | Q(cancellation_reason=""),
                name="orders_order_reason_only_when_cancelled",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    line_total = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY),
                name="orders_orderline_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderStatusChange(models.Model):
    """The order's timeline: each status it entered, when, and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="timeline")
    status = models.CharField(max_length=20, choices=Order.Status.choices)
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class Saga(models.Model):
    """One order saga instance: where it is, and what its steps produced (reservation key, payment id,
    shipment id). One per order, held by the unique order column."""

    class Status(models.TextChoices):
        RUNNING = "running"
        COMPENSATING = "compensating"
        COMPLETED = "completed"  # every step succeeded: the order is ready_to_ship
        COMPENSATED = "compensated"  # every compensation succeeded: the order is cancelled
        FAILED = "failed"  # a compensation kept failing: the order needs attention
        RESOLVED = "resolved"  # an operator marked a failed saga resolved

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="saga")
    definition_version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    current_step = models.CharField(max_length=30)
    # When the current step must be done by (running), or when a compensation is overdue (compensating).
    deadline = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=128)
    # A cancellation waiting for the step in flight to finish ("customer_request"), or the reason taken.
    cancel_requested = models.CharField(max_length=30, blank=True)
    failure_reason = models.CharField(max_length=30, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["deadline"],
                name="orders_saga_active_deadline",
                condition=Q(status__in=["running", "compensating"]),
            )
        ]

    def __str__(self) -> str:
        return f"saga {self.id} ({self.status})"


class SagaStep(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        COMPENSATING = "compensating"
        COMPENSATED = "compensated"
        COMPENSATION_FAILED = "compensation_failed"

    saga = models.ForeignKey(Saga, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=30)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    compensation_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["saga", "position"]
        constraints = [
            models.UniqueConstraint(fields=["saga", "name"], name="orders_sagastep_unique_name"),
            models.UniqueConstraint(fields=["saga", "position"], name="orders_sagastep_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class OperatorAction(models.Model):
    """An operator's intervention on a saga, with the reason they gave."""

    class Kind(models.TextChoices):
        RETRY_STEP = "retry_step"
        FORCE_COMPENSATION = "force_compensation"
        MARK_RESOLVED = "mark_resolved"

    saga = models.ForeignKey(Saga, on_delete=models.CASCADE, related_name="operator_actions")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    operator = models.CharField(max_length=254)
    reason = models.CharField(max_length=500)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.operator}"
