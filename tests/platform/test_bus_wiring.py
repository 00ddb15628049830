"""Bus wiring that cannot fail silently: unique, stable subscription names; miswired handlers modules
refused at start-up; deliveries whose handler or event type a deploy removed dead-lettered with that
reason, visible and filterable in the admin, and replayable once the code is back."""

import dataclasses
import datetime as dt
import functools
import importlib
import os
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import ClassVar

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integration import bus, tasks
from integration.bus import core, registry
from integration.bus.models import Delivery, OutboxMessage
from integration.contexts import ContextConfig
from tests.busapp import events, other_handlers
from tests.busapp.models import Effect

ROOT = Path(__file__).resolve().parents[2]
PINGED = events.Pinged.EVENT_TYPE


def _names(type_name=PINGED):
    return [s.name for s in registry.subscribers(type_name)]


def _module(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


# --- names are unique and stable --------------------------------------------------------------------


def test_a_second_function_claiming_a_handler_name_is_refused_naming_both(testbus):
    before = registry.subscription("testbus.on_pinged_b")

    with pytest.raises(registry.RegistryError) as refused:
        registry.subscribe_module(context="testbus", module=other_handlers)

    message = str(refused.value)
    assert "'testbus.on_pinged_b' is claimed by two handlers" in message
    assert "tests.busapp.handlers.on_pinged_b" in message
    assert "tests.busapp.other_handlers.on_pinged_b" in message
    # The first subscriber is still the one deliveries reach: nothing was replaced.
    assert registry.subscription("testbus.on_pinged_b") is before
    assert registry.subscription("testbus.on_pinged_b").handler is testbus.on_pinged_b
    assert _names() == ["testbus.on_pinged_a", "testbus.on_pinged_b", "testbus.on_pinged_flaky"]


def test_the_same_function_subscribed_again_is_idempotent_even_after_a_reload(testbus):
    before = _names()
    testbus.register()  # ready() running twice
    assert _names() == before

    old_function = testbus.on_pinged_a
    reloaded = importlib.reload(testbus)  # new function objects with the same module and qualname
    reloaded.register()
    assert _names() == before
    current = registry.subscription("testbus.on_pinged_a").handler
    assert current is reloaded.on_pinged_a and current is not old_function


def test_two_same_named_functions_in_one_map_are_refused(testbus):
    # One module importing handlers of the same name from two modules keeps two different functions.
    renamed = other_handlers.on_pinged_b
    with pytest.raises(registry.RegistryError, match="claimed by two handlers"):
        registry.subscribe_map(
            context="elsewhere", subscriptions={events.Pinged: [testbus.on_pinged_b, renamed]}
        )
    assert "elsewhere.on_pinged_b" not in _names()


def test_two_closures_with_one_qualname_are_two_functions(testbus):
    def make():
        def on_pinged_closure(event, envelope):
            return None

        return on_pinged_closure

    registry.subscribe(context="testbus", event=events.Pinged, handler=(first := make()))
    try:
        registry.subscribe(context="testbus", event=events.Pinged, handler=first)  # the same object
        with pytest.raises(registry.RegistryError, match="claimed by two handlers"):
            registry.subscribe(context="testbus", event=events.Pinged, handler=make())
    finally:
        registry.unsubscribe("testbus.on_pinged_closure")


def test_one_handler_for_two_event_types_is_refused(testbus):
    with pytest.raises(registry.RegistryError, match="subscribes to two event types"):
        registry.subscribe(context="testbus", event=events.Recorded, handler=testbus.on_pinged_a)
    assert registry.subscription("testbus.on_pinged_a").event_type == PINGED


# --- miswired handlers modules are start-up errors -------------------------------------------------


def test_a_context_whose_handlers_module_has_no_subscriptions_map_refuses_to_start():
    package = importlib.import_module("tests.busapp.wiring.missing_map")
    config = ContextConfig("tests.busapp.wiring.missing_map", package)
    with pytest.raises(registry.RegistryError) as refused:
        config.ready()
    assert str(refused.value).startswith(
        "tests.busapp.wiring.missing_map.handlers has no SUBSCRIPTIONS map: declare SUBSCRIPTIONS ="
    )
    assert not [s for s in registry.all_subscriptions() if s.context == "missing_map"]


def test_the_process_does_not_start_with_a_miswired_context():
    # As a web or worker process starts: django.setup() runs every ready().
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.busapp.broken_settings",
        "BROKEN_APP": "tests.busapp.wiring.missing_map.apps.MissingMapConfig",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        "integration.bus.registry.RegistryError: tests.busapp.wiring.missing_map.handlers has no"
        " SUBSCRIPTIONS map" in result.stderr
    ), result.stderr


@dataclasses.dataclass(kw_only=True)
class _Mutable:
    EVENT_TYPE: ClassVar[str] = "testbus.Mutable.v1"
    n: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class _NoType:
    n: int


class _NotADataclass:
    EVENT_TYPE = "testbus.Plain.v1"


def _handle(event, envelope):
    return None


class _CallableObject:
    def __call__(self, event, envelope):
        return None


@pytest.mark.parametrize(
    ("subscriptions", "expected"),
    [
        ({"testbus.Pinged.v1": [_handle]}, "the key 'testbus.Pinged.v1' is not an event class"),
        ({_NotADataclass: [_handle]}, "_NotADataclass is not an event class: it must be a frozen dataclass"),
        ({_Mutable: [_handle]}, "_Mutable is not an event class: it must be a frozen dataclass"),
        ({_NoType: [_handle]}, "_NoType is not an event class: it has no EVENT_TYPE"),
        ({events.Pinged: ["on_pinged"]}, "'on_pinged' is not callable"),
        ({events.Pinged: [None]}, "None is not callable"),
        ({events.Pinged: _handle}, "[Pinged] must be a list of handler functions, not <function _handle"),
        ({events.Pinged: "_handle"}, "[Pinged] must be a list of handler functions, not '_handle'"),
        ({events.Pinged: 3}, "[Pinged] must be a list of handler functions, not 3"),
        ({events.Pinged: []}, "[Pinged] lists no handler"),
        ({events.Pinged: [lambda event, envelope: None]}, "is not a named function"),
        ({events.Pinged: [_CallableObject()]}, "is not a named function"),
        ({events.Pinged: [functools.partial(_handle)]}, "is not a named function"),
        ([(events.Pinged, [_handle])], "must be a mapping {EventClass: [handler, ...]}, not list"),
    ],
)
def test_a_miswired_subscriptions_map_is_refused_with_a_clear_message(testbus, subscriptions, expected):
    module = _module("contexts.example.handlers", SUBSCRIPTIONS=subscriptions)
    with pytest.raises(registry.RegistryError) as refused:
        registry.subscribe_module(context="example", module=module)
    message = str(refused.value)
    assert message.startswith("contexts.example.handlers.SUBSCRIPTIONS"), message
    assert expected in message, message
    assert not [s for s in registry.all_subscriptions() if s.context == "example"]


def test_a_map_with_one_bad_entry_subscribes_nothing(testbus):
    module = _module(
        "contexts.example.handlers", SUBSCRIPTIONS={events.Recorded: [_handle], events.Pinged: ["oops"]}
    )
    with pytest.raises(registry.RegistryError, match="'oops' is not callable"):
        registry.subscribe_module(context="example", module=module)
    assert registry.subscribers(events.Recorded.EVENT_TYPE) == []


def test_an_empty_map_is_a_context_that_subscribes_to_nothing(testbus):
    assert registry.subscribe_module(context="example", module=_module("x.handlers", SUBSCRIPTIONS={})) == []


# --- the relay is wired at start-up, and tests swap it without touching privates --------------------


def test_the_relay_is_wired_to_the_delivery_task_at_start_up_and_swappable():
    assert bus.enqueue_function() is tasks.enqueue_delivery
    sent = []

    def record(**kwargs):
        sent.append(kwargs)

    with bus.use_enqueue(record):
        assert bus.enqueue_function() is record
        core.retry_later(7, core.Outcome("failed", 1.5, "testbus", "corr-1"))
    assert bus.enqueue_function() is tasks.enqueue_delivery
    assert sent == [{"delivery_id": 7, "queue": "testbus", "correlation_id": "corr-1", "countdown": 1.5}]


# --- a delivery whose handler or event type is gone -------------------------------------------------


@pytest.fixture
def recorded_sends():
    sent: list[int] = []

    def record(*, delivery_id, queue, correlation_id, countdown=None):
        sent.append(delivery_id)

    with bus.use_enqueue(record):
        yield sent


@pytest.fixture
def operator_client(db):
    operator = get_user_model().objects.create_superuser("ops@example.com", "a-long-operator-password")
    client = Client()
    client.force_login(operator)
    return client


def _changelist(client, **query) -> tuple[list[str], str]:
    """The handlers of the deliveries listed (the filter's result) and the page's HTML."""
    response = client.get(reverse("admin:integration_delivery_changelist"), query)
    assert response.status_code == 200
    return [d.handler for d in response.context["cl"].result_list], response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_delivery_for_a_removed_handler_is_dead_lettered_at_once_shown_and_replayable(
    testbus, recorded_sends, operator_client, settings
):
    settings.BUS = {**settings.BUS, "MAX_ATTEMPTS": 8}
    event_id = bus.publish(events.Pinged(n=1))
    delivery = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_b")
    registry.unsubscribe("testbus.on_pinged_b")  # a deploy renamed or removed it

    outcome = core.deliver(delivery.id)

    assert outcome.status == "dead" and outcome.retry_in is None  # not retried, despite 8 attempts allowed
    delivery.refresh_from_db()
    assert delivery.status == "dead" and delivery.attempts == 1 and delivery.next_attempt_at is None
    assert delivery.last_error.startswith(
        "handler 'testbus.on_pinged_b' is not subscribed in this process: renamed or removed?"
    )
    assert not Effect.objects.filter(handler="b").exists()
    # Never dropped, never swept again.
    assert OutboxMessage.objects.filter(id=event_id).exists()
    for d in Delivery.objects.filter(message_id=event_id).exclude(id=delivery.id):
        assert core.deliver(d.id).status == "delivered"
    recorded_sends.clear()
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now() - dt.timedelta(hours=2))
    assert core.sweep_outbox(grace_seconds=0) == 0
    assert recorded_sends == []
    assert core.deliver(delivery.id).status == "dead"

    # The operator sees it among dead deliveries, with its reason, and can filter on that reason.
    listed, page = _changelist(operator_client, status="dead", reason="handler-missing")
    assert listed == ["testbus.on_pinged_b"]
    assert "is not subscribed in this process: renamed or removed?" in page
    assert "handler not subscribed here" in page  # the filter's choice
    assert _changelist(operator_client, reason="handler-error")[0] == []
    assert _changelist(operator_client, reason="malformed-payload")[0] == []
    assert _changelist(operator_client, status="dead")[0] == ["testbus.on_pinged_b"]

    # Replayed while the handler is still missing: the operator is warned, it dies again.
    response = operator_client.post(
        reverse("admin:integration_delivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.id]},
        follow=True,
    )
    assert "No handler is subscribed as testbus.on_pinged_b in this deployment" in response.content.decode()
    assert core.deliver(delivery.id).status == "dead"

    # The handler is deployed again: a replay from the admin delivers it, once.
    testbus.register()
    recorded_sends.clear()
    response = operator_client.post(
        reverse("admin:integration_delivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.id]},
        follow=True,
    )
    body = response.content.decode()
    assert "Replayed 1 deliveries." in body and "No handler is subscribed" not in body
    assert recorded_sends == [delivery.id]
    assert core.deliver(delivery.id).status == "delivered"
    assert Effect.objects.filter(handler="b", event_id=event_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_delivery_for_a_removed_event_type_is_dead_lettered_at_once_and_replayable(
    testbus, recorded_sends, operator_client
):
    event_id = bus.publish(events.Pinged(n=2))
    delivery = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_a")
    registry.unregister_event(PINGED)

    assert core.deliver(delivery.id).status == "dead"
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith(
        "event type 'testbus.Pinged.v1' is not registered in this process: renamed or removed?"
    )
    listed, page = _changelist(operator_client, reason="event-type-missing")
    assert listed == ["testbus.on_pinged_a"] and "is not registered in this process" in page

    registry.register_events_from(events)
    assert core.replay([delivery.id]) == 1
    assert core.deliver(delivery.id).status == "delivered"
    assert Effect.objects.filter(handler="a", event_id=event_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_handler_name_now_subscribed_to_another_event_type_is_not_called_with_this_one(
    testbus, recorded_sends
):
    event_id = bus.publish(events.Pinged(n=3))
    delivery = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_b")
    # A deploy moved the name to another event type (say, a .v2 event).
    registry.unsubscribe("testbus.on_pinged_b")
    registry.subscribe(context="testbus", event=events.Recorded, handler=other_handlers.on_pinged_b)
    try:
        assert core.deliver(delivery.id).status == "dead"
    finally:
        registry.unsubscribe("testbus.on_pinged_b")
    delivery.refresh_from_db()
    assert delivery.last_error.startswith(
        "handler 'testbus.on_pinged_b' is not subscribed to testbus.Pinged.v1 in this process"
        " (it now handles testbus.Recorded.v1)"
    )
    assert not Effect.objects.filter(event_id=event_id, handler__in=("b", "other-b")).exists()


@pytest.mark.django_db(transaction=True)
def test_a_handlers_own_failure_is_filtered_apart_from_the_permanent_reasons(
    testbus, recorded_sends, operator_client, settings
):
    from django.core.cache import cache

    from tests.busapp.handlers import FAIL_FLAG

    settings.BUS = {**settings.BUS, "MAX_ATTEMPTS": 1}
    cache.set(FAIL_FLAG, True)
    event_id = bus.publish(events.Pinged(n=4))
    flaky = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_flaky")
    assert core.deliver(flaky.id).status == "dead"

    listed, page = _changelist(operator_client, reason="handler-error")
    assert listed == ["testbus.on_pinged_flaky"]
    assert "RuntimeError: flaky handler told to fail" in page  # the traceback's last line, in the list
    assert _changelist(operator_client, reason="handler-missing")[0] == []


def test_unknown_subscription_lookups_say_what_happened():
    with pytest.raises(registry.UnknownSubscription, match="renamed or removed"):
        registry.subscription(f"testbus.on_nothing_{uuid.uuid4().hex}")


def on_pinged_noop(event, envelope):
    return None


@pytest.mark.django_db(transaction=True)
def test_checking_the_handler_and_event_type_adds_no_query_to_a_delivery(testbus, recorded_sends):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    registry.subscribe(context="testbus", event=events.Pinged, handler=on_pinged_noop)
    try:
        event_id = bus.publish(events.Pinged(n=5))
        delivery = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_noop")
        with CaptureQueriesContext(connection) as queries:
            assert core.deliver(delivery.id).status == "delivered"
    finally:
        registry.unsubscribe("testbus.on_pinged_noop")
    # The hot path on PostgreSQL: claim (SELECT ... FOR UPDATE), then mark delivered + inbox (one CTE),
    # in one transaction; the wiring checks are dictionary lookups.
    statements = [q["sql"].split()[0] for q in queries]
    assert statements == ["BEGIN", "SELECT", "WITH", "COMMIT"], [q["sql"] for q in queries]
