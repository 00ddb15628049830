"""The domain-event bus: transactional outbox, per-subscriber deliveries, inbox deduplication.

Contexts use `publish(event)` inside their business transaction and declare subscriptions in their
handlers module; everything else here is the machinery that makes delivery at-least-once and
deduplicated per handler. The relay's way to the broker is wired once at start-up (`configure`, from
the integration app's ready()); tests hand deliveries elsewhere with `use_enqueue(fn)`.
"""

from integration.bus.registry import (
    EventType,
    RegistryError,
    Subscription,
    UnknownEventType,
    UnknownSubscription,
    event_type_named,
    event_type_of,
    event_types,
    register_event,
    register_events_from,
    subscribe,
    subscribe_map,
    subscribe_module,
    subscribers,
)

# The machinery needs the ORM, which AppConfig modules (importing the registry) must not load early.
_CORE = {
    "Enqueue",
    "Envelope",
    "EventTypeNotRegistered",
    "HandlerNotSubscribed",
    "MalformedPayload",
    "PermanentDeliveryError",
    "configure",
    "deliver",
    "dispatch_message",
    "enqueue_function",
    "outbox_lag_seconds",
    "publish",
    "replay",
    "sweep_outbox",
    "use_enqueue",
}


def __getattr__(name: str):
    if name in _CORE:
        from integration.bus import core

        return getattr(core, name)
    raise AttributeError(f"module 'integration.bus' has no attribute {name!r}")


__all__ = [
    "Enqueue",
    "Envelope",
    "EventType",
    "EventTypeNotRegistered",
    "HandlerNotSubscribed",
    "MalformedPayload",
    "PermanentDeliveryError",
    "RegistryError",
    "Subscription",
    "UnknownEventType",
    "UnknownSubscription",
    "configure",
    "deliver",
    "dispatch_message",
    "enqueue_function",
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
    "subscribe_module",
    "subscribers",
    "sweep_outbox",
    "use_enqueue",
]
