"""The one address shape of the whole API, and the E.164 phone check: shared by every context's views.

`{full_name, line1, line2, city, region, postal_code, country, phone}`; `country` is an ISO 3166-1
alpha-2 code, and `line2`, `region` and `phone` are optional (empty strings when absent).
"""

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# ISO 3166-1 alpha-2, all 249 officially assigned codes (from the iso-codes 4.15 database).
_ISO_3166_1_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_ISO_3166_1_ALPHA_2.split())

# E.164: a plus sign, then up to 15 digits, the first of which (the country code) is not 0.
validate_e164 = RegexValidator(
    r"^\+[1-9][0-9]{1,14}\Z",
    message="Enter the phone number in E.164 form, e.g. +14155550100.",
    code="invalid_phone",
)


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
    full_name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20)
    country = CountryField(help_text="ISO 3166-1 alpha-2, e.g. DE (any case is accepted and stored upper)")
    phone = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default="", validators=[validate_e164]
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
