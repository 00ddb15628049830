"""make bench-relay: the RabbitMQ transport's outbox relay, messages/s to the broker, against raw kombu
publishing with publisher confirms, in the same run.

The outbox is filled with EVENTS undispatched rows (the benchmark's event, published before the clock
starts); the relay then claims, publishes, waits for confirms and marks them dispatched, batch after
batch, until the outbox is empty. The baselines publish the same bodies to the same exchange with the
same routing key, persistent:
- kombu's own confirms (the `confirm_publish` transport option: each publish waits for its confirm);
- the relay's publisher alone, batched confirms without the database: the relay's ceiling.
Messages land in the benchmark subscribers' two queues, purged after each phase.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url, ensure_database  # noqa: E402

EVENTS = int(os.environ.get("BENCH_RELAY_EVENTS", "20000"))
RAW_EVENTS = int(os.environ.get("BENCH_RELAY_RAW_EVENTS", "5000"))
BENCH_DB = os.environ.get("BENCH_RELAY_DB", "shop_bench_relay")


def _prepare_environment() -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url(BENCH_DB),
        "BUS_TRANSPORT": "rabbitmq",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-" + "x" * 40),
        "SECURE_SSL_REDIRECT": "false",
    }
    os.environ.update(env)
    return env


def measure(events: int = EVENTS, raw_events: int = RAW_EVENTS) -> dict:
    """The relay and its baselines on the configured database and broker (Django set up with
    bench.busbench installed, the bus's transport rabbitmq), the outbox emptied first: msg/s of raw
    kombu waiting for each confirm (`kombu`), of the relay's publisher alone (`batched`) and of the
    relay (`relay`), with `events` and `raw_events` (messages in the raw kombu run)."""
    import uuid

    from django.conf import settings
    from django.db import connection, transaction
    from kombu import Connection, Producer

    from bench.busbench.handlers import Measured
    from integration import bus
    from integration.bus import core, rabbitmq, registry
    from integration.bus.models import OutboxMessage

    url = rabbitmq.broker_url()
    subs = [s for s in registry.all_subscriptions() if s.context == "benchbus"]

    def purge() -> None:
        with Connection(url) as conn:
            channel = conn.channel()
            rabbitmq.declare_topology(channel)
            for sub in subs:
                rabbitmq.handler_queues(sub)[0](channel).purge()

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE integration_delivery, integration_outboxmessage, integration_inboxrecord CASCADE"
        )
    purge()

    # The outbox, filled through bus.publish (500 events a transaction, only to fill it quickly).
    ref = uuid.uuid4()
    for start in range(0, events, 500):
        with transaction.atomic():
            for n in range(start, min(events, start + 500)):
                bus.publish(Measured(n=n, ref=ref))
    sample = [
        rabbitmq.outgoing(core.envelope_of(m), exchange=f"bus.{m.source}", routing_key=m.type, headers={})
        for m in OutboxMessage.objects.order_by("created_at")[:raw_events]
    ]

    # Baseline 1: raw kombu, each publish waiting for its confirm (confirm_publish).
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.channel(), auto_declare=False)
        started = time.perf_counter()
        for m in sample:
            producer.publish(
                m.body,
                exchange=m.exchange,
                routing_key=m.routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                headers=m.headers,
                message_id=m.message_id,
                type=m.type,
            )
        kombu_rate = len(sample) / (time.perf_counter() - started)
    purge()

    # Baseline 2: the relay's publisher without the database, batches of RELAY_BATCH.
    batch = settings.BUS["RELAY_BATCH"]
    pub = rabbitmq.ConfirmingPublisher(name="shop-bench-raw")
    pub.publish_batch(sample[:1])  # connect and declare outside the clock
    started = time.perf_counter()
    rounds = max(1, events // len(sample))
    for _ in range(rounds):
        for i in range(0, len(sample), batch):
            assert all(pub.publish_batch(sample[i : i + batch]))
    batched_rate = rounds * len(sample) / (time.perf_counter() - started)
    pub.close()
    purge()

    # The relay: claim, publish, confirm, mark dispatched, until the outbox is empty.
    relay_pub = rabbitmq.ConfirmingPublisher(name="shop-bench-relay")
    relay_pub.publish_batch([])  # connect and declare outside the clock
    started = time.perf_counter()
    relayed = rabbitmq.relay_until_empty(pub=relay_pub)
    relay_rate = relayed / (time.perf_counter() - started)
    relay_pub.close()
    assert relayed == events, relayed
    assert not OutboxMessage.objects.filter(dispatched_at__isnull=True).exists()
    with Connection(url) as conn:
        queued = [
            rabbitmq.handler_queues(s)[0](conn.channel()).queue_declare(passive=True).message_count
            for s in subs
        ]
    assert queued == [events] * len(subs), queued
    purge()

    return {
        "kombu": kombu_rate,
        "batched": batched_rate,
        "relay": relay_rate,
        "events": events,
        "raw_events": len(sample),
    }


def main() -> None:
    env = _prepare_environment()
    ensure_database(database_url(BENCH_DB))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from django.conf import settings

    rates = measure()
    kombu_rate, batched_rate, relay_rate = rates["kombu"], rates["batched"], rates["relay"]
    batch = settings.BUS["RELAY_BATCH"]
    events, raw = rates["events"], rates["raw_events"]
    print(f"bench-relay: {events} outbox rows, persistent, publisher confirms, RabbitMQ + PostgreSQL")
    print(f"  raw kombu, a confirm per message        {kombu_rate:9.1f} msg/s   ({raw} messages)")
    print(f"  raw batched confirms, no database       {batched_rate:9.1f} msg/s   (batches of {batch})")
    print(f"  relay: claim, publish, confirm, mark    {relay_rate:9.1f} msg/s   (batches of {batch})")
    ratio = relay_rate / kombu_rate
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"  ratio relay / raw kombu with confirms   {ratio:9.2f}   (target >= 0.50: {verdict})")
    print(
        f"  ratio relay / raw batched confirms      {relay_rate / batched_rate:9.2f}   (the database's share)"
    )


if __name__ == "__main__":
    main()
