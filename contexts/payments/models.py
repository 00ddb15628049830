"""Tables of the payments context. Other contexts' things are referenced by id, never by ForeignKey.

The amounts' invariants (refunded <= captured <= amount, none negative) are CHECK constraints, so no
code path, however it writes, can refund more than was captured. The sandbox provider's own state sits
at the end: it stands for the provider's side of the wire and is read only by that adapter.
"""

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from integration import money

KEY_LENGTH = 200


def _money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


PAYMENT_STATUSES = (
    "pending",
    "authorized",
    "captured",
    "partially_refunded",
    "refunded",
    "voided",
    "failed",
    "in_doubt",
)


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        AUTHORIZED = "authorized"
        CAPTURED = "captured"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"
        VOIDED = "voided"
        FAILED = "failed"
        IN_DOUBT = "in_doubt"

    class Doubt(models.TextChoices):
        """Which provider call's answer never came, while the payment is in doubt."""

        NONE = ""
        AUTHORIZE = "authorize"
        CAPTURE = "capture"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The authorize call's idempotency key: one payment per key, whoever calls and however often.
    key = models.CharField(max_length=KEY_LENGTH, unique=True)
    order_id = models.UUIDField(db_index=True)
    user_id = models.UUIDField(db_index=True)
    amount = _money_field()
    currency = models.CharField(max_length=3, validators=[money.currency_validator])
    payment_method = models.CharField(max_length=100)
    provider = models.CharField(max_length=40)
    provider_reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    doubt = models.CharField(max_length=10, choices=Doubt.choices, default=Doubt.NONE, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    captured_amount = _money_field(default=Decimal("0"))
    refunded_amount = _money_field(default=Decimal("0"))
    capture_key = models.CharField(max_length=KEY_LENGTH, unique=True, null=True, blank=True)
    # What the invoice issued at capture will say, given at authorize (the order's lines and billing
    # address); invoices.py fills in defaults when the caller gave none.
    invoice_lines = models.JSONField(default=list, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_payment_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(captured_amount__gte=0, captured_amount__lte=F("amount")),
                name="payments_payment_captured_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("captured_amount")),
                name="payments_payment_refunded_within_captured",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PAYMENT_STATUSES), name="payments_payment_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency} {self.status}"


# A payment the provider has captured, refunded or not: it has its invoice.
CAPTURED_STATUSES = (Payment.Status.CAPTURED, Payment.Status.PARTIALLY_REFUNDED, Payment.Status.REFUNDED)


class ProviderCall(models.Model):
    """The transaction log: one row per call to the provider, whatever its outcome."""

    class Kind(models.TextChoices):
        AUTHORIZE = "authorize"
        CAPTURE = "capture"
        VOID = "void"
        REFUND = "refund"
        LOOKUP = "lookup"

    class Outcome(models.TextChoices):
        APPROVED = "approved"
        DECLINED = "declined"
        INVALID = "invalid"
        ERROR = "error"  # transient: the answer is unknown
        FOUND = "found"
        NOT_FOUND = "not_found"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="calls")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = _money_field(null=True, blank=True)
    key = models.CharField(max_length=KEY_LENGTH + 60)  # ours, "<key>:<operation>"
    provider_reference = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    response = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["key"], name="payments_call_key_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} {self.outcome}"


class Refund(models.Model):
    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=KEY_LENGTH, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = _money_field()
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices)
    actor = models.CharField(max_length=200, blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.status}"


class InvoiceSequence(models.Model):
    """The last invoice number issued in a year. Its row is locked by the capture that issues the next
    number and released at that transaction's commit or rollback, so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    """The billing document issued when a payment is captured: numbered without gaps within its year,
    and immutable once written (save and delete refuse; on PostgreSQL a trigger refuses UPDATE and
    DELETE too). Amounts are tax-free: no tax is computed, so the total is the lines' sum."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20, unique=True)  # "INV-2026-000001"
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="invoice")
    order_id = models.UUIDField(db_index=True)
    user_id = models.UUIDField(db_index=True)
    currency = models.CharField(max_length=3)
    # [{"description": str, "quantity": int, "unit_amount": "12.50", "amount": "25.00"}, ...]
    lines = models.JSONField()
    subtotal = _money_field()
    total = _money_field()
    billing_address = models.JSONField(default=dict, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["year", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="payments_invoice_year_sequence_uniq"),
            models.CheckConstraint(condition=Q(total=F("subtotal")), name="payments_invoice_tax_free"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("An invoice is immutable once issued.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("An invoice is immutable once issued.")


# --- the sandbox provider's side of the wire -------------------------------------------------------


class SandboxOperation(models.Model):
    """What the sandbox provider answered to one keyed call: replayed for the same key, and what
    `lookup` reads. `response` stays empty until the call took effect."""

    key = models.CharField(max_length=KEY_LENGTH + 60, unique=True)
    kind = models.CharField(max_length=10)
    attempts = models.PositiveIntegerField(default=0)
    response = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class SandboxCharge(models.Model):
    """An authorization held at the sandbox provider: one per charge it ever made."""

    reference = models.CharField(max_length=100, unique=True)
    key = models.CharField(max_length=KEY_LENGTH + 60, unique=True)
    amount = _money_field()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)  # authorized | captured | voided
    captured_amount = _money_field(default=Decimal("0"))
    refunded_amount = _money_field(default=Decimal("0"))

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("captured_amount"), captured_amount__lte=F("amount")),
                name="payments_sandboxcharge_amounts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.status}"
