"""Idempotency keys given to a context's commands (`<saga_id>:<step>`, an HTTP client's key...).

A command's key may travel to a provider as an `Idempotency-Key` header (`<key>:<operation>`), so it
is what a header can carry: printable ASCII (RFC 9110 section 5.5; the Idempotency-Key draft,
draft-ietf-httpapi-idempotency-key-header, section 2).
"""

from django.core.exceptions import ValidationError


def key_check(key: str, *, max_length: int) -> None:
    """Refuse (ValidationError on `key`) anything but 1 to `max_length` printable ASCII characters."""
    if not (isinstance(key, str) and 0 < len(key) <= max_length and key.isascii() and key.isprintable()):
        raise ValidationError({"key": [f"A key is 1-{max_length} printable ASCII characters."]})
