"""Which event types exist and who subscribes to them. Filled once per process from AppConfig.ready()."""

import dataclasses
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_TYPE_NAME = re.compile(r"^(?P<source>[a-z_]+)\.(?P<name>[A-Z][A-Za-z0-9]+)\.v(?P<version>[1-9][0-9]*)$")


class RegistryError(RuntimeError):
    """The wiring is wrong: an event class without a valid EVENT_TYPE, a clashing name."""


class UnknownEventType(LookupError):
    """No event class is registered under this type name in this process."""


@dataclass(frozen=True)
class EventType:
    cls: type
    type_name: str  # "orders.OrderPlaced.v1"
    source: str  # "orders"
    name: str  # "OrderPlaced"
    version: int


@dataclass(frozen=True)
class Subscription:
    name: str  # "<context>.<handler function>", stable: stored on every delivery
    context: str  # the subscriber's context; its Celery queue
    event_type: str
    handler: Callable[[Any, Any], None]


_lock = threading.Lock()
_event_types: dict[str, EventType] = {}
_event_classes: dict[type, EventType] = {}
_subscriptions: dict[str, Subscription] = {}  # by name
_by_type: dict[str, list[Subscription]] = {}


def parse_type_name(type_name: str) -> tuple[str, str, int]:
    match = _TYPE_NAME.match(type_name or "")
    if not match:
        raise RegistryError(f"{type_name!r} is not a versioned event type such as 'orders.OrderPlaced.v1'")
    return match["source"], match["name"], int(match["version"])


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_event(cls: type) -> EventType:
    type_name = getattr(cls, "EVENT_TYPE", None)
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:
        raise RegistryError(f"{cls.__qualname__} must be a frozen dataclass")
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


def subscribe(*, context: str, event: type, handler: Callable[[Any, Any], None]) -> Subscription:
    """Subscribe `handler(event, envelope)`; idempotent, because AppConfig.ready() may run twice."""
    etype = event_type_of(event)
    sub = Subscription(
        name=f"{context}.{handler.__name__}", context=context, event_type=etype.type_name, handler=handler
    )
    with _lock:
        existing = _subscriptions.get(sub.name)
        if existing is not None:
            if existing.event_type != sub.event_type:
                raise RegistryError(f"handler name {sub.name} subscribes to two event types")
            # ready() ran again (tests, reloads): keep one entry, refreshed to the current function.
            _by_type[sub.event_type] = [s for s in _by_type[sub.event_type] if s.name != sub.name]
        _subscriptions[sub.name] = sub
        _by_type.setdefault(sub.event_type, []).append(sub)
    return sub


def subscribe_map(*, context: str, subscriptions: Mapping[type, Iterable[Callable]]) -> None:
    for event, handlers in subscriptions.items():
        for handler in handlers:
            subscribe(context=context, event=event, handler=handler)


def subscribers(type_name: str) -> list[Subscription]:
    return list(_by_type.get(type_name, ()))


def subscription(name: str) -> Subscription:
    try:
        return _subscriptions[name]
    except KeyError:
        raise LookupError(f"no handler named {name!r} is subscribed in this process") from None


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
