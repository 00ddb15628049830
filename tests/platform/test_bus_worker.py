"""The event bus end to end: PostgreSQL outbox, RabbitMQ, and a real Celery worker process."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse

from integration import bus
from integration.bus import core
from integration.bus.models import Delivery, InboxRecord, OutboxMessage
from integration.tasks import deliver_event
from tests.busapp import events
from tests.busapp.handlers import FAIL_FLAG
from tests.busapp.models import Effect
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def effects(event_id, handler=None):
    qs = Effect.objects.filter(event_id=event_id)
    return qs.filter(handler=handler).count() if handler else qs.count()


def all_delivered(event_id):
    statuses = list(Delivery.objects.filter(message_id=event_id).values_list("status", flat=True))
    return statuses and all(s == "delivered" for s in statuses)


def test_a_committed_event_reaches_every_subscriber_once(celery_worker_process, testbus):
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=1))

    wait_until(lambda: all_delivered(event_id), message="all deliveries delivered")
    assert effects(event_id, "a") == 1
    assert effects(event_id, "b") == 1
    assert effects(event_id, "flaky") == 1
    assert InboxRecord.objects.filter(event_id=event_id).count() == 3
    assert OutboxMessage.objects.get(id=event_id).dispatched_at is not None


def test_the_sweep_delivers_what_a_crash_left_undispatched(celery_worker_process, testbus, monkeypatch):
    # Simulate a crash between commit and the after-commit relay: the relay never runs.
    monkeypatch.setattr(core, "dispatch_message", lambda *args, **kwargs: None)
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=2))
    assert OutboxMessage.objects.get(id=event_id).dispatched_at is None
    assert effects(event_id) == 0

    sent = core.sweep_outbox(grace_seconds=0)

    assert sent == 3
    wait_until(lambda: all_delivered(event_id), message="swept deliveries delivered")
    assert effects(event_id, "a") == effects(event_id, "b") == effects(event_id, "flaky") == 1
    # Swept once, it is not swept again.
    assert core.sweep_outbox(grace_seconds=0) == 0


def test_the_same_event_delivered_five_times_has_one_effect_per_handler(
    celery_worker_process, testbus, monkeypatch
):
    monkeypatch.setattr(core, "dispatch_message", lambda *args, **kwargs: None)
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=3))
    deliveries = list(Delivery.objects.filter(message_id=event_id))

    for _ in range(5):
        for d in deliveries:
            deliver_event.apply_async((d.id,), queue=d.queue)
    wait_until(lambda: all_delivered(event_id), message="deliveries delivered")

    # Even a delivery whose record was reset (a lost status write) has no second effect: the inbox.
    Delivery.objects.filter(message_id=event_id).update(status="pending")
    for _ in range(5):
        for d in deliveries:
            deliver_event.apply_async((d.id,), queue=d.queue)
    wait_until(lambda: all_delivered(event_id), message="redeliveries finished")

    for handler in ("a", "b", "flaky"):
        assert effects(event_id, handler) == 1, handler


def test_correlation_id_flows_from_the_request_through_the_worker(celery_worker_process, testbus, client):
    response = client.post(
        "/api/testbus/ping/", {"n": 4}, content_type="application/json", HTTP_X_REQUEST_ID="req-corr-0001"
    )
    assert response.status_code == 201
    event_id = response.json()["event_id"]
    assert OutboxMessage.objects.get(id=event_id).correlation_id == "req-corr-0001"

    wait_until(lambda: all_delivered(event_id), message="deliveries delivered")
    # The worker bound the id from the task header; the handler's own event carries it on, caused by ours.
    assert set(Effect.objects.filter(event_id=event_id).values_list("correlation_id", flat=True)) == {
        "req-corr-0001"
    }
    recorded = OutboxMessage.objects.get(type="testbus.Recorded.v1", payload__of=event_id)
    assert recorded.correlation_id == "req-corr-0001"
    assert recorded.causation_id == event_id


def test_a_failing_handler_is_dead_lettered_then_replayed_from_the_admin(celery_worker_process, testbus):
    cache.set(FAIL_FLAG, True, timeout=120)
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=5))

    flaky = Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_flaky")
    wait_until(
        lambda: Delivery.objects.get(id=flaky.id).status == "dead", timeout=30, message="dead-lettering"
    )
    flaky.refresh_from_db()
    assert flaky.attempts == 3  # BUS_MAX_ATTEMPTS of the test worker
    assert "flaky handler told to fail" in flaky.last_error
    assert effects(event_id, "flaky") == 0
    # The other subscribers were not held back by the failing one.
    assert effects(event_id, "a") == effects(event_id, "b") == 1

    # The handler is fixed; an operator replays the dead delivery from the admin.
    cache.delete(FAIL_FLAG)
    operator = get_user_model().objects.create_superuser("ops@example.com", "a-long-operator-password")
    from django.test import Client

    admin = Client()
    admin.force_login(operator)
    response = admin.post(
        reverse("admin:integration_delivery_changelist"),
        {"action": "replay", "_selected_action": [flaky.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Replayed 1 deliveries." in response.content.decode()

    wait_until(lambda: Delivery.objects.get(id=flaky.id).status == "delivered", message="replayed delivery")
    assert effects(event_id, "flaky") == 1
    assert effects(event_id, "a") == effects(event_id, "b") == 1


def test_worker_connections_are_reused_across_tasks_and_replaced_when_broken(celery_worker_process, testbus):
    event_ids = []
    for n in range(12):
        with transaction.atomic():
            event_ids.append(bus.publish(events.Pinged(n=100 + n)))
    wait_until(lambda: all(all_delivered(e) for e in event_ids), message="12 events delivered")
    pids = set(Effect.objects.filter(event_id__in=event_ids).values_list("backend_pid", flat=True))
    # 36 handler runs in 2 worker processes: one persistent session each, not one per task.
    assert 1 <= len(pids) <= 2, pids

    # The database drops those sessions (a failover, an idle timeout): the next tasks must notice
    # (health check) and reconnect, not fail.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(pids)])
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=200))
    wait_until(lambda: all_delivered(event_id), message="delivery after the connections were killed")
    new_pids = set(Effect.objects.filter(event_id=event_id).values_list("backend_pid", flat=True))
    assert new_pids.isdisjoint(pids)
    assert Delivery.objects.get(message_id=event_id, handler="testbus.on_pinged_a").attempts == 1


def test_a_delivery_for_a_handler_the_worker_does_not_have_is_dead_lettered_at_once(
    celery_worker_process, testbus, monkeypatch
):
    # Stored before a deploy renamed the handler: the worker's code no longer has that name.
    monkeypatch.setattr(core, "dispatch_message", lambda *args, **kwargs: None)
    with transaction.atomic():
        event_id = bus.publish(events.Pinged(n=6))
    gone = Delivery.objects.create(message_id=event_id, handler="testbus.on_pinged_renamed", queue="testbus")

    deliver_event.apply_async((gone.id,), queue=gone.queue)

    wait_until(lambda: Delivery.objects.get(id=gone.id).status == "dead", message="dead-lettering")
    gone.refresh_from_db()
    assert gone.attempts == 1  # not the worker's 3 attempts: retrying cannot bring the handler back
    assert gone.last_error.startswith(
        "handler 'testbus.on_pinged_renamed' is not subscribed in this process: renamed or removed?"
    )
    assert OutboxMessage.objects.filter(id=event_id).exists()
