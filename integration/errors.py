"""The error taxonomy every context's errors derive from: business (compensate) or transient (retry).

A context error carries a stable `code` and its fields, and knows nothing of HTTP: the edge maps its
kind to a status once (integration.edge.problems), and a saga decides from its base alone whether to
retry with backoff (TransientError) or to compensate (BusinessError). Errors cross a process boundary
as themselves: `error_to_primitive` / `error_from_primitive` round-trip the type and every field through
the bus's JSON codec, driven by the fields' annotations on the class.

    class OutOfStock(Conflict):
        code = "out-of-stock"
        title = "Not enough stock."
        skus: tuple[str, ...]

    raise OutOfStock("Not enough available for: A.", skus=("A",))
"""

import functools
import typing
from typing import Any, ClassVar

from integration import codec

# The members a problem body already has (RFC 9457 section 3.1, and the edge's own): an error's fields
# are written beside them, so a field of the same name would collide (say `current_status`, not
# `status`).
RESERVED_FIELDS = frozenset({"type", "title", "status", "detail", "instance", "request_id"})
_RESERVED_WHY = "an error's fields sit beside a problem's own members; choose another name"


class ContextError(Exception):
    """Base of every error a context's api raises on purpose.

    `code` is the stable machine-readable name (also the problem `type` slug at the edge); `title` a
    short human summary; `detail` this occurrence's explanation. Keyword `fields` are the error's data,
    readable as attributes (`exc.skus`) and as `exc.fields`; annotate them on the class so they decode
    to their types after crossing a wire.
    """

    code: ClassVar[str] = "error"
    title: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        declared = {
            name for name, hint in vars(cls).get("__annotations__", {}).items() if "ClassVar" not in str(hint)
        }
        if clash := declared & RESERVED_FIELDS:
            raise TypeError(f"{cls.__qualname__} declares {sorted(clash)}: {_RESERVED_WHY}")

    def __init__(self, detail: str = "", **fields: Any):
        if clash := fields.keys() & RESERVED_FIELDS:
            raise TypeError(f"{type(self).__qualname__} got {sorted(clash)}: {_RESERVED_WHY}")
        self.detail = detail or self.title or self.code
        self.fields = fields
        for name, value in fields.items():
            setattr(self, name, value)
        super().__init__(self.detail)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and (self.detail, self.fields) == (other.detail, other.fields)

    def __hash__(self) -> int:
        return hash((type(self), self.detail))

    def __reduce__(self):
        # Pickle (Celery's result backends, multiprocessing) through the same generic constructor.
        return (_restore, (type(self), self.detail, self.fields))

    def __repr__(self) -> str:
        fields = "".join(f", {k}={v!r}" for k, v in self.fields.items())
        return f"{type(self).__name__}({self.detail!r}{fields})"


class BusinessError(ContextError):
    """Retrying cannot help (declined card, out of stock, not found, invalid state): compensate, or
    tell the client."""


class TransientError(ContextError):
    """Retrying may help (timeout, provider 5xx, breaker open, lock timeout): retry with backoff."""

    code = "transient-error"
    title = "A dependency is temporarily unavailable."


# The kinds of business error. The edge gives each one HTTP status (integration.edge.problems).
class NotFound(BusinessError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    code = "not-found"


class Conflict(BusinessError):
    """The request is valid but the current state refuses it (out of stock, already committed)."""

    code = "conflict"


class Invalid(BusinessError):
    """The request's content is refused by a business rule (a bad line, an unknown category)."""

    code = "invalid"


class Unauthenticated(BusinessError):
    """The credentials or token presented are not valid."""

    code = "not-authenticated"


class Forbidden(BusinessError):
    """The caller is known but may not do this."""

    code = "permission-denied"


class PreconditionFailed(BusinessError):
    """A condition the caller set (an expected version, an If-Match ETag) no longer holds."""

    code = "precondition-failed"


# --- across a wire -------------------------------------------------------------------------------------

# Django's ValidationError travels too: services raise it for invalid input (see error_to_primitive).
VALIDATION_ERROR = "django.ValidationError"

_classes: dict[str, type[ContextError]] = {}


def error_name(cls: type[ContextError]) -> str:
    """The name an error class travels under, "<module>.<qualname>": "contexts.catalog.data.OutOfStock"."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_error(cls: type[ContextError]) -> type[ContextError]:
    """Make `cls` decodable by name (integration.services registers every error an api exports)."""
    if not (isinstance(cls, type) and issubclass(cls, ContextError)):
        raise TypeError(f"{cls!r} is not a ContextError")
    _classes[error_name(cls)] = cls
    return cls


@functools.cache
def _field_types(cls: type[ContextError]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {name: tp for name, tp in hints.items() if typing.get_origin(tp) is not ClassVar}


def _restore(cls: type[ContextError], detail: str, fields: dict[str, Any]) -> ContextError:
    """An instance of `cls` with this detail and these fields, without calling its own __init__ (whose
    signature is the raiser's convenience, not a wire format)."""
    exc = cls.__new__(cls)
    ContextError.__init__(exc, detail, **fields)
    return exc


def error_to_primitive(exc: BaseException) -> dict[str, Any]:
    """{"error": name, "detail": str, "fields": {...}} for a ContextError or Django ValidationError.

    Raises codec.CodecError for anything else, or a field the codec cannot encode.
    """
    from django.core.exceptions import ValidationError

    if isinstance(exc, ContextError):
        if error_name(type(exc)) not in _classes:
            register_error(type(exc))
        return {
            "error": error_name(type(exc)),
            "detail": exc.detail,
            "fields": codec.to_primitive(exc.fields),
        }
    if isinstance(exc, ValidationError):
        messages = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        detail = "; ".join(exc.messages)
        return {"error": VALIDATION_ERROR, "detail": detail, "fields": {"messages": messages}}
    raise codec.CodecError(f"{type(exc).__name__} is not an error that can cross a wire")


def error_from_primitive(data: Any) -> Exception:
    """The inverse of error_to_primitive: the same type with the same fields. CodecError if unknown."""
    from django.core.exceptions import ValidationError

    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        raise codec.CodecError("an error is an object with an 'error' name")
    name, detail, fields = data["error"], data.get("detail") or "", data.get("fields") or {}
    if name == VALIDATION_ERROR:
        return ValidationError(fields.get("messages") or detail)
    cls = _classes.get(name)
    if cls is None:
        raise codec.CodecError(f"no error class is registered as {name!r}")
    types = _field_types(cls)
    decoded = {
        key: codec.from_primitive(types.get(key, Any), value, f"$.fields.{key}")
        for key, value in fields.items()
    }
    return _restore(cls, detail, decoded)
