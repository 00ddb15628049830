"""The JSON codec for events and service DTOs: frozen dataclasses <-> plain JSON, exactly.

Encoding turns UUID, Decimal, datetime/date, enums, tuples and nested dataclasses into JSON values
(decimals as strings, datetimes as ISO 8601). Decoding is driven by the dataclass's type hints, so the
decoded object compares equal to the original. Anything that does not fit is refused with CodecError.
"""

import collections.abc
import dataclasses
import datetime as dt
import enum
import functools
import json
import types
import typing
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any


class CodecError(ValueError):
    """A value cannot be encoded, or a payload does not match the type it claims to be."""


def to_primitive(value: Any) -> Any:
    """Encode a value (dataclass, UUID, Decimal, ...) into JSON-compatible primitives."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CodecError("NaN and infinity have no JSON form")
        return value
    if isinstance(value, enum.Enum):
        return to_primitive(value.value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CodecError("a Decimal must be finite")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise CodecError("datetimes must be timezone-aware")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_primitive(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_primitive(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = to_primitive(k)
            if not isinstance(key, str):
                raise CodecError(f"mapping keys must encode to strings, not {type(k).__name__}")
            out[key] = to_primitive(v)
        return out
    raise CodecError(f"cannot encode a value of type {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(to_primitive(value), separators=(",", ":"), ensure_ascii=False)


_ABSTRACT_SEQUENCES = (
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_ABSTRACT_MAPPINGS = (collections.abc.Mapping,)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_primitive(tp: Any, data: Any, path: str = "$") -> Any:
    """Decode JSON primitives into an instance of type `tp` (the inverse of to_primitive)."""
    if tp is Any:
        return data
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return from_primitive(arg, data, path)
            except CodecError as exc:
                errors.append(str(exc))
        raise CodecError(f"{path}: no member of {tp} accepts the value ({'; '.join(errors)})")
    if origin is typing.Literal:
        if data not in args:
            raise CodecError(f"{path}: expected one of {args!r}")
        return data
    if origin in _ABSTRACT_SEQUENCES:
        origin = tuple  # an api parameter typed Sequence[X] or Iterable[X] decodes to a tuple
        args = (args[0], Ellipsis) if args else ()
    if origin in _ABSTRACT_MAPPINGS:
        origin = dict
    if origin in (tuple, list, frozenset, set):
        if not isinstance(data, list):
            raise CodecError(f"{path}: expected a list")
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(from_primitive(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
            if args:
                if len(args) != len(data):
                    raise CodecError(f"{path}: expected {len(args)} items")
                return tuple(
                    from_primitive(a, v, f"{path}[{i}]")
                    for i, (a, v) in enumerate(zip(args, data, strict=True))
                )
            return tuple(data)
        item = args[0] if args else Any
        return origin(from_primitive(item, v, f"{path}[{i}]") for i, v in enumerate(data))
    if origin is dict:
        if not isinstance(data, dict):
            raise CodecError(f"{path}: expected an object")
        ktype, vtype = args if args else (str, Any)
        return {
            from_primitive(ktype, k, f"{path}.{k}"): from_primitive(vtype, v, f"{path}.{k}")
            for k, v in data.items()
        }
    if origin is not None:
        raise CodecError(f"{path}: unsupported type {tp}")

    if tp is None or tp is type(None):
        if data is not None:
            raise CodecError(f"{path}: expected null")
        return None
    if not isinstance(tp, type):
        raise CodecError(f"{path}: unsupported type {tp!r}")
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, path)
    if issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise CodecError(f"{path}: {data!r} is not a {tp.__name__}") from None
    if tp is bool:
        if not isinstance(data, bool):
            raise CodecError(f"{path}: expected a boolean")
        return data
    if tp is int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise CodecError(f"{path}: expected an integer")
        return data
    if tp is float:
        if not isinstance(data, int | float) or isinstance(data, bool):
            raise CodecError(f"{path}: expected a number")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise CodecError(f"{path}: expected a string")
        return data
    if tp is Decimal:
        if not isinstance(data, str | int):
            raise CodecError(f"{path}: expected a decimal string")
        try:
            value = Decimal(data)
        except InvalidOperation:
            raise CodecError(f"{path}: {data!r} is not a decimal") from None
        if not value.is_finite():
            raise CodecError(f"{path}: a decimal must be finite")
        return value
    if tp is uuid.UUID:
        try:
            return uuid.UUID(data)
        except (TypeError, ValueError, AttributeError):
            raise CodecError(f"{path}: {data!r} is not a UUID") from None
    if tp is dt.datetime:
        try:
            value = dt.datetime.fromisoformat(data)
        except (TypeError, ValueError):
            raise CodecError(f"{path}: {data!r} is not an ISO 8601 datetime") from None
        if value.tzinfo is None:
            raise CodecError(f"{path}: datetimes must carry a timezone")
        return value
    if tp is dt.date:
        try:
            return dt.date.fromisoformat(data)
        except (TypeError, ValueError):
            raise CodecError(f"{path}: {data!r} is not an ISO 8601 date") from None
    raise CodecError(f"{path}: unsupported type {tp.__name__}")


def _decode_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise CodecError(f"{path}: expected an object for {cls.__name__}")
    hints = _hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.name in data:
            kwargs[field.name] = from_primitive(hints[field.name], data[field.name], f"{path}.{field.name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise CodecError(f"{path}: missing field {field.name!r} of {cls.__name__}")
    # Unknown keys are ignored on purpose: a producer may add optional fields without a new version.
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"{path}: {cls.__name__} refused the values: {exc}") from None


def loads(tp: Any, text: str | bytes) -> Any:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"not valid JSON: {exc}") from None
    return from_primitive(tp, data)
