"""The API's JSON parser, for every endpoint: a bounded read, strict UTF-8, and only storable values.

A request body is refused with a 400 problem before any view sees it when it is:

* larger than DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413). Django enforces that limit only when
  `request.body` or form data is read; DRF's parser reads the stream directly and would take a body of
  any size, so this parser refuses early on Content-Length and never reads more than the limit (plus
  one byte to notice an overrun);
* not UTF-8 (RFC 8259 section 8.1), or not JSON, or uses NaN/Infinity (not JSON either);
* nested deeper than JSON_MAX_DEPTH arrays/objects (RFC 8259 section 9 lets a parser limit depth);
  deeper input would otherwise exhaust the interpreter's recursion limit and answer 500;
* carrying a number outside the signed 64-bit range, in any notation (RFC 8259 section 6 lets a
  parser limit ranges): no field of this API takes one, the widest column is a PostgreSQL bigint, and
  converting thousands of digits costs quadratic time. `1e30` is refused as `10**30` is, so the rule
  is one bound on a value, as the OpenAPI schema states it (JSON Schema sees values, not notations);
* carrying NUL or a lone UTF-16 surrogate in any string or key at any depth (400 validation-error,
  `errors` naming the field): neither can be stored (see integration.text), and a lone surrogate that
  got stored would make every later read of the row fail;
* naming a member twice in one object, at any depth (RFC 8259 section 4: names SHOULD be unique, and
  which duplicate a parser keeps is unpredictable; RFC 7493, I-JSON, forbids them). Two readings of
  one body would let a signed webhook say one thing to its signature check and another to whoever
  reads it with a different parser, or a proxy's inspection see another body than the view.
"""

import json
import math
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

from integration.text import JSONTooDeep, json_unstorable, replace_unstorable

# The signed 64-bit range: PostgreSQL's bigint, the widest integer any column here holds.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_INT_MAX_DIGITS = len(str(INT_MAX))


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _bounded_int(text: str) -> int:
    # Length first: int() of thousands of digits is slow, and refused past 4,300 digits anyway.
    if len(text.lstrip("-")) > _INT_MAX_DIGITS or not INT_MIN <= (value := int(text)) <= INT_MAX:
        raise ValueError(f"an integer is outside the 64-bit range ({INT_MIN} to {INT_MAX})")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"a number is outside the 64-bit range ({INT_MIN} to {INT_MAX})")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        twice = next(name for name, _ in pairs if name in seen or seen.add(name))
        # Echoed in the error: repr() escapes what cannot be shown, and a long name is cut.
        raise ValueError(f"the name {replace_unstorable(twice)[:100]!r} appears twice in one object")
    return members


def parse_json(text: str, *, strict: bool = True) -> Any:
    """`text` (a body already read within the size limit and decoded) as JSON under the rules above:
    ParseError for what is not JSON or nests too deep, ValidationError naming each unstorable value.
    The public API's parser and the internal endpoints (integration.edge.internal) both read with it."""
    max_depth = settings.JSON_MAX_DEPTH
    try:
        data = json.loads(
            text,
            parse_constant=_reject_constant if strict else None,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            object_pairs_hook=_unique_names,
        )
    except RecursionError:
        # The decoder recurses once per level: far past JSON_MAX_DEPTH it runs out of stack first.
        raise exceptions.ParseError(_too_deep(max_depth)) from None
    except ValueError as exc:
        raise exceptions.ParseError(f"The request body is not valid JSON: {exc}") from None
    errors: dict[str, list[str]] = {}
    try:
        for path, problem in json_unstorable(data, max_depth=max_depth):
            errors.setdefault(path or "non_field_errors", []).append(problem)
    except JSONTooDeep:
        raise exceptions.ParseError(_too_deep(max_depth)) from None
    if errors:
        raise exceptions.ValidationError(errors)
    return data


def _too_deep(max_depth: int) -> str:
    return f"The request body nests arrays and objects more than {max_depth} levels deep."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return parse_json(self._read(stream, (parser_context or {}).get("request")), strict=self.strict)

    @staticmethod
    def _read(stream, request) -> str:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            declared = request.META.get("CONTENT_LENGTH", "") if request is not None else ""
            # ASCII digits, compared by length before int(): a header of 5,000 digits is just too large.
            if declared.isascii() and declared.isdigit():
                digits = declared.lstrip("0") or "0"
                if len(digits) > len(str(limit)) or int(digits) > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        else:
            raw = stream.read()
        try:
            # RFC 8259: JSON exchanged between systems is UTF-8, whatever a charset parameter claims.
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError("The request body is not valid UTF-8.") from None
