"""Which event types exist and who subscribes to them. Filled once per process from AppConfig.ready().

A subscription is named "<context>.<function name>" (for example "payments.on_order_placed"). The
name is stored on every delivery and inbox record, so it must be unique and stable: the registry
refuses, at start-up, a second function claiming a name, and anything in a SUBSCRIPTIONS map that is
not an event class mapped to a list of named functions. Registering the same function again (ready()
running twice, a module reload) is harmless.
"""

import dataclasses
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_TYPE_NAME = re.compile(r"^(?P<source>[a-z_]+)\.(?P<name>[A-Z][A-Za-z0-9]+)\.v(?P<version>[1-9][0-9]*)$")
_CONTEXT = re.compile(r"^[a-z][a-z0-9_]*$")

Handler = Callable[[Any, Any], None]


class RegistryError(RuntimeError):
    """The wiring is wrong: raised at start-up, with a message that names the culprits.

    For example an event class without a valid EVENT_TYPE, a handlers module without SUBSCRIPTIONS,
    or two functions claiming one subscription name.
    """


class UnknownEventType(LookupError):
    """No event class is registered under this type name in this process."""


class UnknownSubscription(LookupError):
    """No handler is subscribed under this name in this process (renamed or removed by a deploy)."""


@dataclass(frozen=True)
class EventType:
    cls: type
    type_name: str  # "orders.OrderPlaced.v1"
    source: str  # "orders"
    name: str  # "OrderPlaced"
    version: int


@dataclass(frozen=True)
class Subscription:
    name: str  # "<context>.<handler function>", stable: stored on every delivery and inbox record
    context: str  # the subscriber's context; its Celery queue
    event_type: str
    handler: Handler

    @property
    def target(self) -> str:
        """The function's importable path, "module.qualname": what tells two same-named handlers apart."""
        return _function_path(self.handler)


_lock = threading.Lock()
_event_types: dict[str, EventType] = {}
_event_classes: dict[type, EventType] = {}
_subscriptions: dict[str, Subscription] = {}  # by name
_by_type: dict[str, list[Subscription]] = {}


def parse_type_name(type_name: str) -> tuple[str, str, int]:
    """Split "orders.OrderPlaced.v1" into ("orders", "OrderPlaced", 1); RegistryError if malformed."""
    match = _TYPE_NAME.match(type_name or "")
    if not match:
        raise RegistryError(f"{type_name!r} is not a versioned event type such as 'orders.OrderPlaced.v1'")
    return match["source"], match["name"], int(match["version"])


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _function_path(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def register_event(cls: type) -> EventType:
    """Register an event class: a frozen dataclass whose EVENT_TYPE is "<source>.<Name>.v<N>".

    Idempotent for the same class (by module and qualname, so reloads are fine); RegistryError if the
    class is not an event class or another class already claims its type name.
    """
    if not isinstance(cls, type):
        raise RegistryError(f"{cls!r} is not an event class (a frozen dataclass with EVENT_TYPE)")
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:
        raise RegistryError(f"{_qualified(cls)} is not an event class: it must be a frozen dataclass")
    type_name = getattr(cls, "EVENT_TYPE", None)
    if type_name is None:
        raise RegistryError(
            f"{_qualified(cls)} is not an event class: it has no EVENT_TYPE such as 'orders.OrderPlaced.v1'"
        )
    source, name, version = parse_type_name(type_name)
    entry = EventType(cls=cls, type_name=type_name, source=source, name=name, version=version)
    with _lock:
        existing = _event_types.get(type_name)
        # The same class imported twice (reloads) is fine; two different classes claiming a name is not.
        if existing is not None and _qualified(existing.cls) != _qualified(cls):
            raise RegistryError(f"{type_name} is claimed by {existing.cls} and {cls}")
        _event_types[type_name] = entry
        _event_classes[cls] = entry
    return entry


def register_events_from(module: Any) -> list[EventType]:
    """Register every event class (a dataclass with EVENT_TYPE) defined in an events module."""
    found = []
    for value in vars(module).values():
        if isinstance(value, type) and value.__module__ == module.__name__ and hasattr(value, "EVENT_TYPE"):
            found.append(register_event(value))
    return found


def event_type_of(cls: type) -> EventType:
    try:
        return _event_classes[cls]
    except KeyError:
        return register_event(cls)


def event_type_named(type_name: str) -> EventType:
    try:
        return _event_types[type_name]
    except KeyError:
        raise UnknownEventType(f"no event class is registered as {type_name!r}") from None


def subscribe(*, context: str, event: type, handler: Handler) -> Subscription:
    """Subscribe `handler(event, envelope)` to `event` as "<context>.<handler.__name__>".

    Idempotent for the same function (ready() may run twice); RegistryError for anything else that
    claims the name. See subscribe_map().
    """
    return subscribe_map(context=context, subscriptions={event: [handler]}, origin=_function_path(handler))[0]


def subscribe_module(*, context: str, module: ModuleType) -> list[Subscription]:
    """Subscribe what a context's handlers module declares in its SUBSCRIPTIONS map.

    A handlers module without SUBSCRIPTIONS is a RegistryError, not an empty subscription: a typo
    ("SUBSCRIPTION") or a map left in another module would otherwise leave the context deaf, silently.
    A module that subscribes to nothing declares `SUBSCRIPTIONS = {}`.
    """
    declared = getattr(module, "SUBSCRIPTIONS", None)
    if declared is None:
        raise RegistryError(
            f"{module.__name__} has no SUBSCRIPTIONS map: declare"
            " SUBSCRIPTIONS = {EventClass: [handler, ...]} (or SUBSCRIPTIONS = {} to subscribe to nothing)"
        )
    return subscribe_map(context=context, subscriptions=declared, origin=f"{module.__name__}.SUBSCRIPTIONS")


def subscribe_map(
    *, context: str, subscriptions: Mapping[type, Iterable[Handler]], origin: str = "SUBSCRIPTIONS"
) -> list[Subscription]:
    """Subscribe every handler of a {EventClass: [handler, ...]} map; all of them, or none.

    Each key must be an event class (a frozen dataclass with EVENT_TYPE) and each value a list or tuple
    of named functions taking (event, envelope). A handler is named "<context>.<function name>"; the
    same function registered again is idempotent (refreshed to the current function object), while a
    different function (another module or qualname) claiming that name, or one function subscribed
    to two event types, is a RegistryError naming both. `origin` names the map in error messages.
    Returns the subscriptions, in map order.
    """
    if not isinstance(context, str) or not _CONTEXT.match(context):
        raise RegistryError(f"{origin}: {context!r} is not a context label such as 'payments'")
    if not isinstance(subscriptions, Mapping):
        raise RegistryError(
            f"{origin} must be a mapping {{EventClass: [handler, ...]}}, not {type(subscriptions).__name__}"
        )
    # Validate the whole map before touching the registry, so a bad entry leaves nothing half-wired.
    wanted: list[Subscription] = []
    for event, handlers in subscriptions.items():
        where = f"{origin}[{getattr(event, '__qualname__', repr(event))}]"
        if not isinstance(event, type):
            raise RegistryError(
                f"{where}: the key {event!r} is not an event class; use the class from the publisher's"
                " events module (a frozen dataclass with EVENT_TYPE)"
            )
        try:
            etype = event_type_of(event)
        except RegistryError as exc:
            raise RegistryError(f"{where}: {exc}") from None
        for handler in _handler_list(handlers, where=where):
            wanted.append(
                Subscription(
                    name=f"{context}.{handler.__name__}",
                    context=context,
                    event_type=etype.type_name,
                    handler=handler,
                )
            )
    with _lock:
        claimed: dict[str, Subscription] = {}
        for sub in wanted:
            existing = claimed.get(sub.name) or _subscriptions.get(sub.name)
            if existing is not None:
                _check_same(existing, sub)
            claimed[sub.name] = sub
        for sub in claimed.values():
            subs = _by_type.setdefault(sub.event_type, [])
            # ready() ran again (tests, reloads): keep the one entry, in its place, refreshed.
            for i, present in enumerate(subs):
                if present.name == sub.name:
                    subs[i] = sub
                    break
            else:
                subs.append(sub)
            _subscriptions[sub.name] = sub
    return [claimed[sub.name] for sub in wanted]


def _handler_list(handlers: Any, *, where: str) -> list[Handler]:
    if callable(handlers) or isinstance(handlers, str | bytes) or not isinstance(handlers, Iterable):
        raise RegistryError(f"{where} must be a list of handler functions, not {handlers!r}")
    found = list(handlers)
    if not found:
        raise RegistryError(f"{where} lists no handler: remove the entry to stop subscribing")
    for handler in found:
        if not callable(handler):
            raise RegistryError(
                f"{where}: {handler!r} is not callable; a handler is a function (event, envelope)"
            )
        name = getattr(handler, "__name__", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise RegistryError(
                f"{where}: {handler!r} is not a named function; a handler must be one, because"
                " '<context>.<function name>' is stored on every delivery"
            )
    return found


def _check_same(existing: Subscription, new: Subscription) -> None:
    """Raise unless `new` is `existing` registered again (same function, same event type)."""
    same_function = existing.handler is new.handler or (
        # A reloaded module makes a new function object with the same path. Functions defined inside
        # another function share a path between closures, so only the very same object counts.
        existing.target == new.target and "<locals>" not in new.target
    )
    if not same_function:
        raise RegistryError(
            f"subscription name {new.name!r} is claimed by two handlers: {existing.target} and {new.target};"
            " rename one of the functions (the name is '<context>.<function name>')"
        )
    if existing.event_type != new.event_type:
        raise RegistryError(
            f"handler {new.name!r} ({new.target}) subscribes to two event types, {existing.event_type}"
            f" and {new.event_type}; write one handler per event type"
        )


def subscribers(type_name: str) -> list[Subscription]:
    return list(_by_type.get(type_name, ()))


def subscription(name: str) -> Subscription:
    """The subscription stored deliveries call `name`; UnknownSubscription if this process has none."""
    try:
        return _subscriptions[name]
    except KeyError:
        raise UnknownSubscription(
            f"handler {name!r} is not subscribed in this process: renamed or removed?"
        ) from None


def event_types() -> list[EventType]:
    return sorted(_event_types.values(), key=lambda e: e.type_name)


def all_subscriptions() -> list[Subscription]:
    return sorted(_subscriptions.values(), key=lambda s: s.name)


def unregister_event(type_name: str) -> None:
    """Forget an event type (tests that register throwaway events clean up with this)."""
    with _lock:
        entry = _event_types.pop(type_name, None)
        if entry is not None:
            _event_classes.pop(entry.cls, None)


def unsubscribe(name: str) -> None:
    """Remove a subscription (tests that subscribe throwaway handlers clean up with this)."""
    with _lock:
        sub = _subscriptions.pop(name, None)
        if sub is not None:
            _by_type[sub.event_type] = [s for s in _by_type[sub.event_type] if s.name != name]
