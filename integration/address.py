"""The one address shape of the whole project and its rules, for services as well as views (no HTTP).

`{full_name, line1, line2, city, region, postal_code, country, phone}`; `country` is an ISO 3166-1
alpha-2 code, and `line2`, `region` and `phone` are optional (empty strings when absent). The API's
serializer (integration.edge.address) and any service that takes an address hold it to these.
"""

from django.core.validators import RegexValidator

# Each field and its longest length.
FIELDS = {
    "full_name": 200,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "country": 2,
    "phone": 16,
}
OPTIONAL = frozenset({"line2", "region", "phone"})

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
