"""The API's JSON parser: a bounded read, strict UTF-8, and a 413 for a body over the size limit.

Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when `request.body` or form data is read; DRF's
parser reads the stream directly and would take a body of any size. This parser refuses early on
Content-Length and never reads more than the limit (plus one byte to notice an overrun).
"""

import json

from django.conf import settings
from rest_framework import exceptions, parsers


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None:
            declared = request.META.get("CONTENT_LENGTH") if request is not None else None
            if declared and declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        else:
            raw = stream.read()
        try:
            # RFC 8259: JSON exchanged between systems is UTF-8, whatever a charset parameter claims.
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError("The request body is not valid UTF-8.") from None
        try:
            return json.loads(text, parse_constant=self._reject_constant if self.strict else None)
        except ValueError as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}") from None

    @staticmethod
    def _reject_constant(name: str):
        raise ValueError(f"{name} is not valid JSON")
