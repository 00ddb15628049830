"""Text rules every context and the edge share: what text can be stored, and one form of an email address.

Storable text: PostgreSQL's text and jsonb cannot hold NUL (U+0000), and UTF-8 cannot encode a lone
UTF-16 surrogate (U+D800..U+DFFF, RFC 3629 section 3), which JSON's `\\ud800` escape can still produce
(RFC 8259 section 8.2 calls such strings "unpredictable"). Such text is refused where it enters, once,
instead of failing when it is saved or, worse, every time it is read back.

Email addresses: one account per address however it is spelled. `normalize_email` is the only place
that decides what "the same address" means; registration, both login doors, the rate-limit buckets and
the users table all use it.
"""

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# NUL, and every UTF-16 surrogate code point (only a lone one can end up in a Python str).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# RFC 5321 section 4.5.3.1.3: a forward-path is at most 256 octets including the angle brackets.
EMAIL_MAX_LENGTH = 254


def unstorable_character(text: str) -> str | None:
    """The first character of `text` that cannot be stored (NUL or a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    return found.group() if found else None


def describe_character(char: str) -> str:
    """`U+D800`-style name of a code point, safe to echo in an error (the character itself is not)."""
    return f"U+{ord(char):04X}"


def text_problem(value: Any, limit: int, *, required: bool) -> str | None:
    """Why `value` is not text a service can store in a column of `limit` characters (not a string,
    blank when `required`, too long, or holding NUL or a lone surrogate), or None if it is."""
    if not isinstance(value, str):
        return "A string."
    if required and not value.strip():
        return "This field is required."
    if len(value) > limit:
        return f"At most {limit} characters."
    char = unstorable_character(value)
    return f"Text must not contain {describe_character(char)}." if char else None


class JSONTooDeep(ValueError):
    """A JSON document nests arrays and objects deeper than allowed."""


def json_unstorable(value: Any, *, max_depth: int) -> Iterator[tuple[str, str]]:
    """Walk a parsed JSON value; yield (path, problem) for each key or string that cannot be stored.

    `path` is "a.b[0].c" (the shape problem+json `errors` use; "" for the document itself). Raises
    JSONTooDeep as soon as arrays/objects nest more than `max_depth` levels. Iterative, so the depth
    of the input never becomes the depth of this process's stack.
    """
    # Each entry: (value, depth of the containers around it, trail), trail = (parent trail, segment).
    stack: list[tuple[Any, int, tuple | None]] = [(value, 0, None)]
    while stack:
        item, depth, trail = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise JSONTooDeep(f"arrays and objects nest more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    bad = unstorable_character(key)
                    segment = replace_unstorable(key)  # the path is echoed in the error
                    if bad is not None:
                        yield _path((trail, segment)), f"A key contains {describe_character(bad)}."
                    stack.append((child, depth + 1, (trail, segment)))
            else:
                stack.extend((child, depth + 1, (trail, f"[{i}]")) for i, child in enumerate(item))
        elif isinstance(item, str):
            bad = unstorable_character(item)
            if bad is not None:
                yield _path(trail), f"Text must not contain {describe_character(bad)}."


def replace_unstorable(text: str) -> str:
    """`text` with each unstorable character replaced by U+FFFD: safe to echo back in an error."""
    return _UNSTORABLE.sub("\ufffd", text)


class StorableJSONDecoder(json.JSONDecoder):
    """A JSON decoder for Django JSONFields (`models.JSONField(decoder=StorableJSONDecoder)`): a
    document with NUL or a lone surrogate in any key or string, or nested deeper than
    JSON_MAX_DEPTH, is a json.JSONDecodeError.

    The API's parser refuses such bodies already; this covers what an operator types into a JSON
    field of an admin form. Django's forms.JSONField turns the JSONDecodeError into "Enter a valid
    JSON." and shows the text as typed, instead of storing it (a database error) or rendering it
    back as a lone surrogate (a UnicodeEncodeError: a 500).
    """

    def decode(self, s, *args, **kwargs):
        max_depth = getattr(settings, "JSON_MAX_DEPTH", 64)
        try:
            value = super().decode(s, *args, **kwargs)
            for path, problem in json_unstorable(value, max_depth=max_depth):
                raise json.JSONDecodeError(f"{path or 'the document'}: {problem}", s, 0)
        except (RecursionError, JSONTooDeep):
            raise json.JSONDecodeError(f"nested more than {max_depth} levels deep", s, 0) from None
        return value


def _path(trail: tuple | None) -> str:
    segments: list[str] = []
    while trail is not None:
        trail, segment = trail
        segments.append(segment)
    path = ""
    for segment in reversed(segments):
        path += segment if segment.startswith("[") or not path else f".{segment}"
    return path


def normalize_email(address: str) -> str:
    """The one form of an email address, for uniqueness, lookups and rate-limit keys. Never raises.

    Unicode NFKC (UAX #15: fullwidth letters and "@", U+FF01..U+FF5E, become ASCII), surrounding
    whitespace dropped, the local part lower-cased, and the domain in its ASCII form (IDNA 2008 with
    the UTS #46 mapping, RFC 5891: "Bücher.de" -> "xn--bcher-kva.de"). A domain IDNA refuses (an IP
    literal, a symbol) keeps its NFKC lower-case form. Idempotent: normalize_email(normalize_email(a))
    == normalize_email(a).
    """
    text = unicodedata.normalize("NFKC", address).strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower()
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        domain = domain.lower()
    return f"{local.lower()}@{domain}"


def canonical_email(address: str) -> str:
    """normalize_email, then checked as a whole: what an account may be registered under.

    Raises django.core.exceptions.ValidationError (code "invalid") if the normal form is longer than
    254 characters (RFC 5321 section 4.5.3.1.3; normalising can lengthen an address: U+33D2 is "log"
    in NFKC, so checking the raw input is not enough), if its local part is not ASCII or longer than 64,
    if its domain is not a dotted name with a valid IDNA 2008 form (no address literals, no
    "localhost"), or if it is not a valid address (Django's EmailValidator).
    """
    normal = normalize_email(address)
    if len(normal) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            f"The address is longer than {EMAIL_MAX_LENGTH} characters in its normal form.", code="invalid"
        )
    local, _, domain = normal.rpartition("@")
    # No SMTPUTF8 (RFC 6531) local parts: outside ASCII, lookalikes such as U+0131 (dotless i, which no
    # normalisation maps to "i") would name a second account; nor quoted ones ("quinn"@ is quinn@ to
    # a mail server). RFC 5321 4.5.3.1.1: at most 64 octets.
    if not local.isascii() or len(local) > 64 or local.startswith('"'):
        raise ValidationError(
            "The part before @ must be at most 64 ASCII characters, unquoted.", code="invalid"
        )
    # A deliverable address on the internet: a dotted domain name, not "localhost" or an IP literal.
    if domain.startswith("[") or "." not in domain.strip("."):
        raise ValidationError("The domain must be a domain name such as example.com.", code="invalid")
    try:
        idna.decode(domain)  # an ASCII "xn--" label must decode to a valid IDNA 2008 label
    except (idna.IDNAError, UnicodeError):
        raise ValidationError(
            "The domain is not a valid internationalised domain name.", code="invalid"
        ) from None
    validate_email(normal)
    return normal
