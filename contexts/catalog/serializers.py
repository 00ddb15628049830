"""Request parsing and response shapes of the catalog's REST endpoints. Money is a decimal string."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contexts.catalog.models import Movement, Product, sku_validator
from contexts.catalog.selectors import DEFAULT_ORDERING, ORDERINGS, ProductFilters, product_available
from integration import money
from integration.edge.fields import AmountField

# Prices are stored with this many decimal places: a currency with more minor units cannot be sold.
PRICE_PLACES = Product._meta.get_field("price").decimal_places
PRICE_LIMIT = Decimal("9999999999.99")


class ProductQuerySerializer(serializers.Serializer):
    """The listing's query string. Anything malformed is a 400, never a 500."""

    category = serializers.SlugField(required=False, max_length=80)
    min_price = serializers.DecimalField(
        required=False, max_digits=12, decimal_places=2, min_value=Decimal("0"), max_value=PRICE_LIMIT
    )
    max_price = serializers.DecimalField(
        required=False, max_digits=12, decimal_places=2, min_value=Decimal("0"), max_value=PRICE_LIMIT
    )
    in_stock = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(required=False, max_length=100)
    ordering = serializers.ChoiceField(choices=sorted(ORDERINGS), required=False, default=DEFAULT_ORDERING)

    def validate(self, attrs):
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": ["min_price must not exceed max_price."]})
        return attrs

    def filters(self) -> ProductFilters:
        return ProductFilters(**self.validated_data)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$", "example": "19.99"})
class PriceField(AmountField):
    """A product's price as a decimal string with exactly its currency's decimal places."""

    def __init__(self, **kwargs):
        super().__init__("price", **kwargs)


class ProductListItemSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    price = PriceField()
    currency = serializers.CharField()
    category = serializers.CharField(source="category_slug", allow_null=True)
    images = serializers.ListField(child=serializers.CharField())
    available = serializers.IntegerField()


class ProductDetailSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    price = PriceField()
    currency = serializers.CharField()
    category = serializers.SerializerMethodField()
    active = serializers.BooleanField(source="is_active")
    attributes = serializers.JSONField()
    images = serializers.ListField(child=serializers.CharField())
    available = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_category(self, product) -> str | None:
        return product.category.slug if product.category_id else None

    def get_available(self, product) -> int:
        return max(0, product_available(product))


class ProductWriteSerializer(serializers.Serializer):
    """What staff may set. `sku` is fixed once created (a new currency needs its price: the service)."""

    sku = serializers.CharField(max_length=64, validators=[sku_validator])
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=220, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=PRICE_PLACES, min_value=Decimal("0"))
    # ISO 4217; the price must be in its minor units (JPY whole, EUR cents): the model checks both.
    currency = serializers.CharField(max_length=3, validators=[money.CurrencyValidator(places=PRICE_PLACES)])
    category = serializers.SlugField(max_length=80, required=False, allow_null=True)
    attributes = serializers.DictField(required=False)
    images = serializers.ListField(child=serializers.URLField(max_length=500), required=False, max_length=20)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        # The SKU is in the URL of an update; one in the body would be a second, conflicting key.
        if self.partial and "sku" in self.initial_data:
            raise serializers.ValidationError({"sku": ["A product's SKU cannot change."]})
        return attrs


class StockAdjustmentSerializer(serializers.Serializer):
    delta = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000)
    reason = serializers.CharField(max_length=500)
    kind = serializers.ChoiceField(
        choices=[Movement.Kind.ADJUSTMENT, Movement.Kind.RECEIPT], default=Movement.Kind.ADJUSTMENT
    )

    def validate_delta(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("A zero adjustment changes nothing.")
        return value


class MovementSerializer(serializers.Serializer):
    kind = serializers.CharField()
    on_hand_delta = serializers.IntegerField()
    reserved_delta = serializers.IntegerField()
    on_hand_after = serializers.IntegerField()
    reserved_after = serializers.IntegerField()
    reservation_key = serializers.CharField()
    actor = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class StockSerializer(serializers.Serializer):
    sku = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
