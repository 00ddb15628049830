"""The one address shape of the whole API, and the E.164 phone check: shared by every context's views.

`{full_name, line1, line2, city, region, postal_code, country, phone}`; `country` is an ISO 3166-1
alpha-2 code, and `line2`, `region` and `phone` are optional (empty strings when absent). The rules
themselves live in integration.address, where services can use them too.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integration.address import COUNTRY_CODES, FIELDS, validate_e164


class CountryField(serializers.ChoiceField):
    """An ISO 3166-1 alpha-2 code: one of COUNTRY_CODES (an enum in the OpenAPI schema), in any case."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages", {"invalid_choice": "Enter an ISO 3166-1 alpha-2 country code, e.g. DE."}
        )
        super().__init__(choices=sorted(COUNTRY_CODES), **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data.upper() if isinstance(data, str) else data)


class AddressSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=FIELDS["full_name"])
    line1 = serializers.CharField(max_length=FIELDS["line1"])
    line2 = serializers.CharField(max_length=FIELDS["line2"], required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=FIELDS["city"])
    region = serializers.CharField(max_length=FIELDS["region"], required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=FIELDS["postal_code"])
    country = CountryField(help_text="ISO 3166-1 alpha-2, e.g. DE (any case is accepted and stored upper)")
    phone = serializers.CharField(
        max_length=FIELDS["phone"], required=False, allow_blank=True, default="", validators=[validate_e164]
    )


@extend_schema_field(AddressSerializer)
class AddressField(serializers.Field):
    """An address as one value: always validated whole, also inside a PATCH (never merged field-wise)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("An address is an object.", code="invalid")
        nested = AddressSerializer(data=data)
        if not nested.is_valid():
            raise serializers.ValidationError(nested.errors)
        return dict(nested.validated_data)

    def to_representation(self, value):
        return {name: value.get(name, "") for name in AddressSerializer().fields}
