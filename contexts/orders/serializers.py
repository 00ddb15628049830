"""Request parsing and response shapes of the cart and orders endpoints. Money is a decimal string with
its currency's places; a price, total or status sent by a client is not a field here, so it is ignored."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contexts.orders.models import MAX_CART_LINES, MAX_LINE_QUANTITY, Order
from integration.edge.address import AddressField
from integration.edge.fields import AMOUNT_SCHEMA, AmountField

SKU_MAX_LENGTH = 64


def _quantity(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, **kwargs)


class CartItemCreateSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=SKU_MAX_LENGTH)
    quantity = _quantity(help_text="Units to add, 1-100; added to the line if the SKU is in the cart.")


class CartItemUpdateSerializer(serializers.Serializer):
    quantity = _quantity(required=False, help_text="The line's new quantity, 1-100 (absent: unchanged).")


@extend_schema_field({**AMOUNT_SCHEMA, "nullable": True})
class OptionalAmountField(AmountField):
    """An amount that is null when there is none (a product no longer sold)."""

    def to_representation(self, value):
        if self._get(value, self.amount_path) is None:
            return None
        return super().to_representation(value)


class CartWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    available = serializers.IntegerField(required=False)


class CartLineSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = OptionalAmountField("unit_price")
    line_total = OptionalAmountField("line_total")
    currency = serializers.CharField(allow_null=True)
    warning = CartWarningSerializer(
        allow_null=True, help_text="Why this line may not be checked out as it is."
    )


class CartSerializer(serializers.Serializer):
    lines = CartLineSerializer(many=True)
    subtotal = OptionalAmountField("subtotal", help_text="Null when the lines are in several currencies.")
    currency = serializers.CharField(allow_null=True)
    warnings = CartWarningSerializer(many=True)


class CheckoutLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=SKU_MAX_LENGTH)
    quantity = _quantity()


class CheckoutSerializer(serializers.Serializer):
    shipping_address = AddressField(
        required=False, help_text="Defaults to the shipping address saved in the caller's profile."
    )
    payment_method = serializers.CharField(max_length=100, help_text="A provider token, e.g. pm_sandbox_ok.")
    lines = CheckoutLineSerializer(
        many=True,
        required=False,
        max_length=MAX_CART_LINES,
        help_text="Check out these lines instead of the cart (the cart is then left as it is); "
        "none at all is 409 cart-empty.",
    )


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = AmountField("unit_price", currency="order.currency")
    line_total = AmountField("line_total", currency="order.currency")


class OrderStatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices)
    at = serializers.DateTimeField()
    note = serializers.CharField()


class OrderListItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    cancellation_reason = serializers.SerializerMethodField()
    total = AmountField("total")
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_cancellation_reason(self, order: Order) -> str | None:
        """Why a cancelled order was cancelled (payment_declined, out_of_stock, address_rejected,
        timeout, customer_request, provider_unavailable); null otherwise."""
        return order.cancellation_reason or None


class OrderSerializer(OrderListItemSerializer):
    subtotal = AmountField("subtotal")
    shipping_address = serializers.JSONField()
    lines = OrderLineSerializer(many=True)
    timeline = OrderStatusChangeSerializer(
        many=True, help_text="Each status the order entered, oldest first."
    )
    updated_at = serializers.DateTimeField()


class OrderQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
