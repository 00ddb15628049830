"""Test handlers: two well-behaved subscribers of Pinged, and one that fails while told to."""

from django.core.cache import cache
from django.db import connection

from integration import bus
from integration.bus import registry
from tests.busapp import events
from tests.busapp.models import Effect

FAIL_FLAG = "testbus:fail"
CONTEXT = "testbus"


def _effect(name, event, envelope):
    pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    Effect.objects.create(
        handler=name, event_id=envelope.id, correlation_id=envelope.correlation_id, backend_pid=pid
    )


def on_pinged_a(event, envelope):
    _effect("a", event, envelope)
    # A handler's own events carry the original correlation id and this event as their cause.
    bus.publish(events.Recorded(of=envelope.id))


def on_pinged_b(event, envelope):
    _effect("b", event, envelope)


def on_pinged_flaky(event, envelope):
    if cache.get(FAIL_FLAG):
        raise RuntimeError("flaky handler told to fail")
    _effect("flaky", event, envelope)


SUBSCRIPTIONS = {events.Pinged: [on_pinged_a, on_pinged_b]}
FLAKY = {events.Pinged: [on_pinged_flaky]}


def register(*, flaky: bool = True) -> None:
    registry.register_events_from(events)
    registry.subscribe_map(context=CONTEXT, subscriptions=SUBSCRIPTIONS)
    if flaky:
        registry.subscribe_map(context=CONTEXT, subscriptions=FLAKY)


def unregister() -> None:
    for subs in (SUBSCRIPTIONS, FLAKY):
        for handlers in subs.values():
            for handler in handlers:
                registry.unsubscribe(f"{CONTEXT}.{handler.__name__}")
    for cls in (events.Pinged, events.Recorded, events.Everything):
        registry.unregister_event(cls.EVENT_TYPE)
