"""The split topology placed by CONTEXTS_LOCAL alone (tests/split/topology.py): each side's database,
workers, consumer, beat and admin hold its own contexts and nothing of the other's."""

import datetime as dt
import re
import subprocess
import sys
import uuid

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from integration.idempotency.models import IdempotencyKey
from tests.split.topology import EXTRACTED, SERVICE_ALIAS
from tests.worker import ROOT, BeatProcess, process_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

SERVICE_QUEUE = "integration.payments+notifications"
MONOLITH_QUEUE = "integration.users+catalog+orders+shipping"


def consumed_queues(worker_output: str) -> set[str]:
    """The queues a Celery worker's start-up banner lists (`.> <queue> exchange=...`)."""
    return set(re.findall(r"^\s+\.> (\S+)\s+exchange=", worker_output, flags=re.MULTILINE))


def consumed_handlers(consumer_output: str) -> list[str]:
    return re.search(r"consuming \d+ handlers: (.*)", consumer_output).group(1).split(", ")


def test_each_side_holds_its_own_tables_queues_and_handlers(split):
    service_tables = {
        row[0] for row in split.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"payments_payment", "notifications_notification", "integration_outboxmessage"} <= service_tables
    assert not [t for t in service_tables if t.startswith(("orders_", "catalog_", "shipping_"))]
    # The user's table alone of users': the service's operator accounts (integration.db).
    assert {t for t in service_tables if t.startswith("users_")} == {
        "users_user",
        "users_user_groups",
        "users_user_user_permissions",
    }

    # Workers started without -Q consume their deployment's queues (the test settings add `testbus`).
    assert consumed_queues(split.service.worker.output()) == {SERVICE_QUEUE, *EXTRACTED, "testbus"}
    assert consumed_queues(split.monolith.worker.output()) == {
        MONOLITH_QUEUE,
        "users",
        "catalog",
        "orders",
        "shipping",
        "testbus",
    }
    # Consumers started without --contexts run their deployment's handlers (and the test app's).
    service_handlers = consumed_handlers(split.service.consumer.output())
    monolith_handlers = consumed_handlers(split.monolith.consumer.output())
    assert "notifications.on_order_confirmed" in service_handlers
    assert {name.split(".")[0] for name in service_handlers} <= {*EXTRACTED, "testbus"}
    assert "orders.on_shipment_delivered" in monolith_handlers
    assert not {name.split(".")[0] for name in monolith_handlers} & set(EXTRACTED)


def test_each_side_mounts_only_its_own_contexts_public_routes(split):
    def status(side, path: str) -> int:
        return httpx.get(side.url(path), timeout=30).status_code

    # 401: the route is there and wants a token; 404: not this deployment's.
    assert [status(split.service, p) for p in ("/api/v1/payments/", "/api/v1/orders/")] == [401, 404]
    assert [status(split.monolith, p) for p in ("/api/v1/payments/", "/api/v1/orders/")] == [404, 401]
    assert status(split.monolith, "/api/v1/notifications/") == 404


def test_the_service_s_beat_purges_the_service_s_idempotency_keys_through_the_service_s_worker(split):
    expired = timezone.now() - dt.timedelta(days=3)

    def expired_key(manager) -> str:
        key = f"placement-{uuid.uuid4()}"
        manager.create(
            user_id="u-1",
            key=key,
            method="POST",
            path="/api/v1/orders/",
            fingerprint="0" * 64,
            created_at=expired,
            response_status=201,
            completed_at=expired,
        )
        return key

    service_key = expired_key(IdempotencyKey.objects.using(SERVICE_ALIAS))
    monolith_key = expired_key(IdempotencyKey.objects)
    # The service's own beat, purging every second: its purge goes to the service's integration queue.
    beat = BeatProcess(
        env={**split.service.env, "IDEMPOTENCY_PURGE_SECONDS": "1"}, name="split-payments-beat"
    )
    beat.start()
    try:
        wait_until(
            lambda: not IdempotencyKey.objects.using(SERVICE_ALIAS).filter(key=service_key).exists(),
            timeout=30,
            message="the service's expired key purged",
        )
    finally:
        beat.stop()
    assert IdempotencyKey.objects.filter(key=monolith_key).exists()  # not the monolith's database
    ran = re.compile(r"Task integration\.purge_idempotency_keys\[\S+\] succeeded")
    assert ran.search(split.service.worker.output())
    assert not ran.search(split.monolith.worker.output())


def admin_pages(base_url: str, email: str, password: str, *paths: str) -> list[httpx.Response]:
    """An operator signed in to a side's admin, and what it answers for `paths`."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        form = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        signed_in = client.post(
            "/admin/login/",
            data={"username": email, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"},
        )
        assert signed_in.status_code == 302, signed_in.text
        return [client.get(path) for path in paths]


PAGES = ("/admin/", "/admin/orders/order/", "/admin/payments/payment/")


def test_each_side_s_admin_lists_its_own_contexts_for_its_own_operators(split):
    password = "an-Operator-passw0rd"
    # The service's operator account lives in the service's database (users' table is everywhere).
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--email", "ops@payments.example"],
        cwd=ROOT,
        env=process_env(extra={**split.service.env, "DJANGO_SUPERUSER_PASSWORD": password}),
        check=True,
        capture_output=True,
    )
    index, orders, payments = admin_pages(split.service.url(), "ops@payments.example", password, *PAGES)
    assert 'href="/admin/payments/payment/"' in index.text
    assert 'href="/admin/notifications/notification/"' in index.text
    assert "/admin/orders/" not in index.text and "/admin/users/" not in index.text
    assert (orders.status_code, payments.status_code) == (404, 200)

    get_user_model().objects.create_superuser(email="ops@shop.example", password=password)
    index, orders, payments = admin_pages(split.monolith.url(), "ops@shop.example", password, *PAGES)
    assert 'href="/admin/orders/order/"' in index.text and 'href="/admin/users/user/"' in index.text
    assert "/admin/payments/" not in index.text and "/admin/notifications/" not in index.text
    assert (orders.status_code, payments.status_code) == (200, 404)
