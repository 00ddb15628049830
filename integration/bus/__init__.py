"""The domain-event bus: transactional outbox, per-subscriber deliveries, inbox deduplication.

Contexts use `publish(event)` inside their business transaction and declare subscriptions in their
handlers module; everything else here is the machinery that makes delivery at-least-once and
deduplicated per handler.
"""

from integration.bus.registry import (
    EventType,
    RegistryError,
    Subscription,
    UnknownEventType,
    event_type_named,
    event_type_of,
    event_types,
    register_event,
    register_events_from,
    subscribe,
    subscribe_map,
    subscribers,
)

# The machinery needs the ORM, which AppConfig modules (importing the registry) must not load early.
_CORE = {
    "Envelope",
    "PermanentDeliveryError",
    "deliver",
    "dispatch_message",
    "outbox_lag_seconds",
    "publish",
    "replay",
    "sweep_outbox",
}


def __getattr__(name: str):
    if name in _CORE:
        from integration.bus import core

        return getattr(core, name)
    raise AttributeError(f"module 'integration.bus' has no attribute {name!r}")


__all__ = [
    "Envelope",
    "EventType",
    "PermanentDeliveryError",
    "RegistryError",
    "Subscription",
    "UnknownEventType",
    "deliver",
    "dispatch_message",
    "event_type_named",
    "event_type_of",
    "event_types",
    "outbox_lag_seconds",
    "publish",
    "register_event",
    "register_events_from",
    "replay",
    "subscribe",
    "subscribe_map",
    "subscribers",
    "sweep_outbox",
]
