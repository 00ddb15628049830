"""make bench-bus: end-to-end event deliveries/s (outbox -> broker -> worker -> inbox -> handler),
and its ratio to a bare Celery no-op task round trip measured in the same run.

10,000 events, 2 subscribers each, RabbitMQ, a real worker with 2 processes, PostgreSQL in its own
benchmark database. Each event is published in its own transaction, as a business transaction would.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url, ensure_database  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
SUBSCRIBERS = 2
BENCH_DB = os.environ.get("BENCH_BUS_DB", "shop_bench_bus")


def _database_url() -> str:
    return database_url(BENCH_DB)


def _prepare_environment() -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": _database_url(),
        "LOG_LEVEL": "WARNING",
        "CELERY_SKIP_CHECKS": "1",
        # As in production: DEBUG would record every query of every task in memory.
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-" + "x" * 40),
        "SECURE_SSL_REDIRECT": "false",
    }
    os.environ.update(env)
    return env


def _wait(predicate, timeout: float, what: str) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    env = _prepare_environment()
    ensure_database(_database_url())
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--run-syncdb"], cwd=ROOT, env=env, check=True
    )

    import django

    django.setup()
    import uuid

    from django.core.cache import cache
    from django.db import connection, transaction

    from bench.busbench.handlers import Measured
    from bench.busbench.tasks import noop
    from integration import bus
    from integration.bus.models import Delivery, InboxRecord, OutboxMessage

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE integration_delivery, integration_outboxmessage, integration_inboxrecord CASCADE"
        )
    # The same worker launcher and queue purge the worker tests use.
    from tests.worker import WorkerProcess, purge_queues

    purge_queues()

    worker = WorkerProcess(queues=["benchbus"], settings_module="bench.settings").start()
    try:
        # Baseline: bare Celery no-op tasks through the same broker and worker.
        cache.set("benchbus:noop", 0, timeout=None)
        noop_started = started = time.perf_counter()
        for _ in range(EVENTS):
            noop.apply_async(queue="benchbus")
        sent = time.perf_counter()
        done = _wait(lambda: cache.get("benchbus:noop") >= EVENTS, 600, "no-op tasks")
        noop_rate = EVENTS / (done - started)

        # The bus: publish each event in its own transaction; deliveries run as the worker keeps up.
        ref = uuid.uuid4()
        started = time.perf_counter()
        for n in range(EVENTS):
            with transaction.atomic():
                bus.publish(Measured(n=n, ref=ref))
        published = time.perf_counter()
        expected = EVENTS * SUBSCRIBERS
        done = _wait(
            lambda: Delivery.objects.filter(status="delivered").count() >= expected, 900, "deliveries"
        )
        delivery_rate = expected / (done - started)
        assert InboxRecord.objects.count() == expected
        assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
        assert not Delivery.objects.exclude(status="delivered").exists()
    finally:
        worker.stop()

    ratio = delivery_rate / noop_rate
    print(f"bench-bus: {EVENTS} events x {SUBSCRIBERS} subscribers, RabbitMQ, worker -c 2, PostgreSQL")
    print(f"  no-op task round trip          {noop_rate:9.1f} tasks/s   (sent in {sent - noop_started:.1f}s)")
    print(
        f"  event deliveries end to end    {delivery_rate:9.1f} deliveries/s"
        f"   (published in {published - started:.1f}s, {EVENTS / (published - started):.0f} events/s)"
    )
    verdict = "meets" if ratio >= 0.4 else "BELOW"
    print(f"  ratio deliveries / no-op       {ratio:9.2f}   (target >= 0.40: {verdict})")


if __name__ == "__main__":
    main()
