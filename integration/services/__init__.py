"""The service-interface registry: every context's api functions, and the one point every call goes through.

A context declares each public function of its `api.py` once, with a decorator:

    @services.operation("catalog")
    def stock_reserve(*, key: str, lines: Sequence[StockLine], ttl: int) -> ReservationData: ...

Callers keep writing `from contexts.catalog import api as catalog` and `catalog.stock_reserve(...)`;
the decorated name dispatches through `call()`, which picks the context's transport in
`transport_for()`, the one place that chooses, from settings:

- a context named in `CONTEXTS_REMOTE` ({"payments": "http://payments:8000"}) is called over HTTP
  (integration.services.remote), at `/internal/<context>/<function>/` of the process that serves it
  (integration.edge.internal), with a service token (integration.services.auth);
- any other is called in-process; with `SERVICES["CODEC_ROUND_TRIP"]` (on in the test settings) every
  such call round-trips its arguments, its result and any error it raises through the bus's JSON
  codec, so whatever could not cross a wire fails in the suite, not at extraction.

Callers and api modules do not change between the two.

Whether a call may be repeated decides whether a transport retries it: an operation with a `key`
parameter is a keyed command (repeating it with the same key has no second effect); one declared
`@operation("<ctx>", read=True)` is a read; any other is an unkeyed command, sent once.

An operation's parameters are keyword-only and annotated, and so is its return: the annotations are
the wire format (integration.codec decodes by them). Errors cross as themselves (integration.errors).
"""

import functools
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError

from integration import codec, errors

F = TypeVar("F", bound=Callable[..., Any])


class RegistryError(RuntimeError):
    """An api function cannot be registered as it is written (positional or unannotated parameters,
    a clashing name)."""


@dataclass(frozen=True)
class Operation:
    """One function of a context's service interface."""

    context: str  # "catalog"
    name: str  # "stock_reserve"
    function: Callable[..., Any]  # the implementation, called by the in-process transport
    parameters: dict[str, Any]  # name -> type hint, in declaration order
    required: frozenset[str]
    returns: Any  # type hint of the result
    summary: str  # first line of the docstring
    read: bool = False  # declared read-only: it changes nothing

    @property
    def qualified_name(self) -> str:
        return f"{self.context}.{self.name}"

    @property
    def keyed(self) -> bool:
        """A command idempotent by its `key` argument."""
        return "key" in self.parameters

    @property
    def repeatable(self) -> bool:
        """Whether repeating a call can have no second effect: a read, or a keyed command."""
        return self.read or self.keyed


class Transport(Protocol):
    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any: ...


_operations: dict[tuple[str, str], Operation] = {}


def _qualified(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _describe(context: str, fn: Callable, *, read: bool = False) -> Operation:
    where = _qualified(fn)
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except NameError as exc:
        raise RegistryError(f"{where}: an annotation cannot be resolved ({exc})") from None
    parameters: dict[str, Any] = {}
    required = set()
    for name, param in signature.parameters.items():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise RegistryError(f"{where}: parameter {name!r} must be keyword-only (def f(*, {name}: ...))")
        if name not in hints:
            raise RegistryError(f"{where}: parameter {name!r} needs a type annotation (the wire format)")
        parameters[name] = hints[name]
        if param.default is inspect.Parameter.empty:
            required.add(name)
    if "return" not in hints:
        raise RegistryError(f"{where}: the return type needs an annotation (it is the wire format)")
    summary = (inspect.getdoc(fn) or "").split("\n", 1)[0]
    return Operation(
        context=context,
        name=fn.__name__,
        function=fn,
        parameters=parameters,
        required=frozenset(required),
        returns=hints["return"],
        summary=summary,
        read=read,
    )


def operation(context: str, *, read: bool = False) -> Callable[[F], F]:
    """Register the decorated function as `<context>.<function name>` of the service interface.

    `read=True` declares that it changes nothing, so a remote call may be retried (a keyed command,
    one with a `key` parameter, may be too; it need not say so, and a read has no key).
    The returned callable takes the same keyword arguments and goes through `call()`. Registering the
    same function again (a module reloaded) is idempotent; another function under the same name is a
    RegistryError.
    """

    def register(fn: F) -> F:
        op = _describe(context, fn, read=read)
        if op.name == "ready":  # /internal/<context>/ready/ is the context's readiness probe
            raise RegistryError(f"{op.qualified_name}: 'ready' is reserved; name it <entity>_<action>")
        if op.read and op.keyed:
            raise RegistryError(f"{op.qualified_name}: a read has no idempotency key; drop read=True or key")
        key = (context, op.name)
        existing = _operations.get(key)
        if existing is not None and _qualified(existing.function) != _qualified(fn):
            raise RegistryError(
                f"{op.qualified_name} is claimed by {_qualified(existing.function)} and {_qualified(fn)}"
            )
        _operations[key] = op

        @functools.wraps(fn)
        def dispatch(*args: Any, **arguments: Any) -> Any:
            if args:
                raise TypeError(f"{op.qualified_name}() takes keyword arguments only")
            return call(context, op.name, arguments)

        dispatch.operation = op  # type: ignore[attr-defined]
        return typing.cast(F, dispatch)

    return register


def unregister(context: str, name: str) -> None:
    """Forget an operation (tests that register throwaway operations clean up with this)."""
    _operations.pop((context, name), None)


def register_errors_from(module: Any) -> list[type[errors.ContextError]]:
    """Make every ContextError class a module (a context's api) exposes decodable after a round trip."""
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, errors.ContextError)
    ]
    for cls in found:
        errors.register_error(cls)
    return found


def contexts() -> list[str]:
    """The contexts that have registered operations, sorted."""
    return sorted({ctx for ctx, _ in _operations})


def operations(context: str | None = None) -> list[Operation]:
    """Registered operations (of one context), sorted by context and name."""
    found = [op for (ctx, _), op in _operations.items() if context is None or ctx == context]
    return sorted(found, key=lambda op: (op.context, op.name))


def operation_named(context: str, name: str) -> Operation:
    try:
        return _operations[(context, name)]
    except KeyError:
        raise LookupError(f"{context}.{name} is not a registered operation") from None


def call(context: str, name: str, arguments: dict[str, Any]) -> Any:
    """Call `<context>.<name>(**arguments)` through the context's transport.

    TypeError for an unknown or missing argument (as a direct call would raise); whatever the
    operation raises otherwise is raised here, as itself.
    """
    op = operation_named(context, name)
    unknown = set(arguments) - set(op.parameters)
    if unknown:
        raise TypeError(f"{op.qualified_name}() got unexpected keyword argument(s): {sorted(unknown)}")
    missing = op.required - set(arguments)
    if missing:
        raise TypeError(f"{op.qualified_name}() missing keyword argument(s): {sorted(missing)}")
    return transport_for(context).call(op, arguments)


# --- transports ---------------------------------------------------------------------------------------


class InProcess:
    """Call the implementation directly: the monolith's default."""

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        return operation.function(**arguments)


def _through_json(value: Any) -> Any:
    """What the other side of a wire would read: encoded to JSON text, parsed back to primitives."""
    return json.loads(codec.dumps(value))


def decode_arguments(operation: Operation, sent: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a call as the wire carried them (JSON primitives), decoded by the operation's
    annotations. CodecError, with the argument's path, for a value that does not fit."""
    where = operation.qualified_name
    return {
        name: codec.from_primitive(operation.parameters[name], value, f"{where}({name})")
        for name, value in sent.items()
    }


def decode_result(operation: Operation, sent: Any) -> Any:
    """A call's result as the wire carried it, decoded by the operation's return annotation."""
    return codec.from_primitive(operation.returns, sent, f"{operation.qualified_name} -> result")


class CodecRoundTrip:
    """In-process, but arguments, result and errors cross the JSON codec as they would over HTTP.

    Decoded by the operation's annotations, so a value that would not survive the wire (a model, a
    queryset, a naive datetime, a float where a Decimal is declared) fails here, with its path.
    """

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        decoded = decode_arguments(operation, _through_json(arguments))
        try:
            result = operation.function(**decoded)
        except (errors.ContextError, ValidationError) as exc:
            raise errors.error_from_primitive(_through_json(errors.error_to_primitive(exc))) from exc
        return decode_result(operation, _through_json(result))


_IN_PROCESS = InProcess()
_ROUND_TRIP = CodecRoundTrip()


def transport_for(context: str) -> Transport:
    """The transport that reaches `context` from this process, from settings (read on every call, so
    tests may override them): HTTP for a context in CONTEXTS_REMOTE, else in-process."""
    from integration.services import remote  # it needs the registry above

    if context in remote.remote_contexts():
        return remote.HTTP
    if settings.SERVICES.get("CODEC_ROUND_TRIP"):
        return _ROUND_TRIP
    return _IN_PROCESS
