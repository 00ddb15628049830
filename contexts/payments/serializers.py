"""Request parsing and response shapes of the payments REST endpoints. Money is a decimal string with
exactly its currency's decimal places."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contexts.payments.models import Payment
from contexts.payments.selectors import invoice_number
from integration.edge.fields import AMOUNT_SCHEMA, AmountField

AMOUNT_PLACES = Payment._meta.get_field("amount").decimal_places


class PaymentQuerySerializer(serializers.Serializer):
    """The list's query string: optional filters."""

    status = serializers.ChoiceField(choices=Payment.Status.choices, required=False)
    order_id = serializers.UUIDField(required=False)


class RefundSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    amount = AmountField("amount", currency="payment.currency")
    currency = serializers.CharField(source="payment.currency")
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    created_at = serializers.DateTimeField()


class PaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    order_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    amount = AmountField("amount")
    currency = serializers.CharField()
    captured_amount = AmountField("captured_amount")
    refunded_amount = AmountField("refunded_amount")
    provider = serializers.CharField()
    provider_reference = serializers.CharField()
    failure_code = serializers.CharField()
    failure_message = serializers.CharField()
    invoice_number = serializers.SerializerMethodField()
    refunds = RefundSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_invoice_number(self, payment: Payment) -> str | None:
        """The invoice's number once the payment is captured, else null."""
        return invoice_number(payment) or None


class StaffPaymentSerializer(PaymentSerializer):
    """What operators see besides: the customer, and who made each refund."""

    user_id = serializers.UUIDField()


class RefundCreateSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=AMOUNT_PLACES,
        min_value=Decimal("0.01"),
        max_value=Decimal("9999999999.99"),
    )
    reason = serializers.CharField(max_length=300, trim_whitespace=True)


@extend_schema_field(AMOUNT_SCHEMA)
class _AmountText(serializers.CharField):
    """An amount stored already written with its currency's decimal places."""


class InvoiceLineSerializer(serializers.Serializer):
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = _AmountText()
    amount = _AmountText()


class InvoiceSerializer(serializers.Serializer):
    number = serializers.CharField(help_text='"INV-<year>-<six digits>", gapless within the year.')
    payment_id = serializers.UUIDField()
    order_id = serializers.UUIDField()
    currency = serializers.CharField()
    lines = InvoiceLineSerializer(many=True)
    subtotal = AmountField("subtotal")
    total = AmountField("total", help_text="Tax-free: no tax is computed, so it equals the subtotal.")
    billing_address = serializers.DictField(child=serializers.CharField())
    issued_at = serializers.DateTimeField()
