"""A JSON body's values must have the JSON type the API documents: `0` is not a boolean, `5` no string.

DRF's fields coerce their input: a BooleanField takes `0`, `"yes"` and `"on"`, an IntegerField takes
`"5"` and `5.0`, a CharField takes `5`, a DecimalField takes the float `19.99`. That suits form input and
query strings, where every value is text, but in a JSON body it means the API accepts what its OpenAPI
contract says is invalid, and a client that sends `"price": 19.99` loses the exactness decimal strings
exist for (the project's rule: money is a decimal string in JSON, never a float).

`install()` (called once at start-up) makes these fields refuse a value of the wrong JSON type with their
own 400 message, but only for values from a JSON body: when the data being validated is form input (a
QueryDict: query strings, forms), DRF's coercion still applies. Fields beyond these keep DRF's behaviour.

    boolean   BooleanField               true / false
    integer   IntegerField               a JSON integer (not a bool, not a float, not a string)
    number    FloatField                 a JSON number (not a bool)
    string    CharField and subclasses, DecimalField with decimal strings ("19.99": ASCII digits, an
              optional point and minus, nothing else), ChoiceField whose choices
              are all strings, DateField, DateTimeField, TimeField, UUIDField
"""

import re
from collections.abc import Callable
from typing import Any

from rest_framework import fields
from rest_framework.settings import api_settings
from rest_framework.utils import html

_ORIGINAL = "_shop_untyped_to_internal_value"


def _from_json(field: fields.Field) -> bool:
    """Whether the value being validated comes from a JSON document (not form input)."""
    root = field.root
    data = getattr(root, "initial_data", None)
    return data is not None and not html.is_html_input(data)


# A decimal string as the schema states it: ASCII digits on both sides of an optional point, an optional
# minus. Python's Decimal() would also take "1e2", "+5", "1_000", " 10 " and other scripts' digits.
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _is_decimal_text(value: Any) -> bool:
    return isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value) is not None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expects(field: fields.Field) -> Callable[[Any], bool] | None:
    """The JSON type test for `field`, or None where DRF's own parsing is already exact enough."""
    if isinstance(field, fields.BooleanField):
        return lambda v: isinstance(v, bool)
    if isinstance(field, fields.IntegerField):
        return _is_int
    if isinstance(field, fields.FloatField):
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    if isinstance(field, fields.DecimalField):
        # DRF sets the attribute only when the field is given one; the setting decides otherwise.
        as_string = getattr(field, "coerce_to_string", None)
        if as_string is None:
            as_string = api_settings.COERCE_DECIMAL_TO_STRING
        return _is_decimal_text if as_string else None
    if isinstance(field, fields.ChoiceField):
        if all(isinstance(choice, str) for choice in field.choices):
            return lambda v: isinstance(v, str)
        return None
    if isinstance(field, fields.CharField | fields.DateField | fields.DateTimeField | fields.TimeField):
        return lambda v: isinstance(v, str)
    if isinstance(field, fields.UUIDField):
        return lambda v: isinstance(v, str)
    return None


def _typed(original):
    def to_internal_value(self, data):
        expects = _expects(self) if _from_json(self) else None
        if expects is not None and not expects(data):
            # Every field class listed has an "invalid" message, except ChoiceField's own wording.
            if isinstance(self, fields.ChoiceField):
                self.fail("invalid_choice", input=data)
            self.fail("invalid")
        return original(self, data)

    to_internal_value.__wrapped__ = original
    return to_internal_value


_FIELDS = (
    fields.BooleanField,
    fields.IntegerField,
    fields.FloatField,
    fields.DecimalField,
    fields.ChoiceField,
    fields.CharField,
    fields.DateField,
    fields.DateTimeField,
    fields.TimeField,
    fields.UUIDField,
)


def install() -> None:
    """Wrap each listed field class's to_internal_value once (idempotent: ready() may run twice).

    Subclasses that define their own to_internal_value (EmailField inherits CharField's; MultipleChoice
    overrides ChoiceField's) are wrapped where they define it, so each class checks exactly once.
    """
    for cls in _FIELDS:
        if _ORIGINAL in cls.__dict__:
            continue
        original = cls.__dict__["to_internal_value"]
        setattr(cls, _ORIGINAL, original)
        cls.to_internal_value = _typed(original)
