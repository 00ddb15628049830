"""make bench-split: the checkout benchmark against the monolith and against the split topology
(payments and notifications as a service, tests/split/topology.py), and the outbox relay against raw
kombu with publisher confirms, all in the same run, on the same database server and broker.

Phases:
1. Monolith: gunicorn (2 gthread workers) and a Celery worker -c 2 serving every context, the bus in
   process. BENCH_CLIENTS clients post checkouts for BENCH_SECONDS (bench_checkout.checkouts), and the
   run waits for every saga to settle. Then HOP_CALLS calls of `payments.payment_get` in process.
2. Split: the same checkouts against the split's monolith, whose saga calls payments over HTTP and
   whose events cross RabbitMQ (each side its gunicorn, worker, relay and consumer; the service on
   its own database). Then the same HOP_CALLS `payments.payment_get` calls from this process over HTTP
   to the service. The extra p99 of one remote hop is p99(over HTTP) - p99(in process) of that call:
   what crossing the wire adds (token, codec, HTTP, the service's middleware), the query being equal.
3. The relay (bench_relay.measure): RELAY_EVENTS outbox rows relayed with batched confirms, against
   raw kombu waiting for each confirm.

Ratios: split ÷ monolith for sagas completed/s (the throughput that crosses the split) and for
accepted checkouts/s; relay ÷ raw kombu with confirms, target at least 0.5.
Data lives in BENCH_CHECKOUT_DB (default shop_bench_checkout) and `<it>_payments`, emptied every run.
"""

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_checkout as checkout  # noqa: E402
from bench.bench_relay import measure as relay_measure  # noqa: E402
from bench.common import gunicorn, ratio_line  # noqa: E402

SETTINGS = "bench.split_settings"
HOP_CALLS = int(os.environ.get("BENCH_HOP_CALLS", "400"))
RELAY_EVENTS = int(os.environ.get("BENCH_RELAY_EVENTS", "5000"))
RELAY_RAW_EVENTS = int(os.environ.get("BENCH_RELAY_RAW_EVENTS", "2000"))
RELAY_TARGET = 0.5


def _payment_get_ms(payment_id: uuid.UUID) -> tuple[float, float]:
    """p50 and p99 (ms) of HOP_CALLS sequential `payments.payment_get` calls, after a warm-up."""
    from contexts.payments import api as payments

    for _ in range(20):
        payments.payment_get(payment_id=payment_id)
    samples = []
    for _ in range(HOP_CALLS):
        started = time.perf_counter()
        payments.payment_get(payment_id=payment_id)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, checkout._percentile(samples, 0.99) * 1000


def main() -> None:
    env = checkout._environment(SETTINGS)
    static_root = tempfile.mkdtemp(prefix="bench-static-")
    env["STATIC_ROOT"] = os.environ["STATIC_ROOT"] = static_root
    tokens = checkout._prepare(env)
    from django.conf import settings
    from django.test import override_settings

    from contexts.payments.models import Payment
    from tests.split.topology import split_running
    from tests.worker import WorkerProcess, purge_queues

    print(
        f"bench-split: {checkout.CLIENTS} clients, {checkout.SECONDS:g} s a topology, gunicorn 2 gthread"
        " workers and Celery -c 2 a deployment"
    )
    purge_queues()
    worker = WorkerProcess(concurrency=2, settings_module=SETTINGS, env=env).start()
    try:
        with gunicorn(workers=2, env=env) as port:
            mono = checkout.checkouts(port, tokens, checkout.SECONDS, " — monolith")
    finally:
        worker.stop()
    local = _payment_get_ms(Payment.objects.values_list("id", flat=True).first())

    with split_running(env={"DJANGO_SETTINGS_MODULE": SETTINGS}, worker_class="gthread") as split:
        apart = checkout.checkouts(split.monolith.port, tokens, checkout.SECONDS, " — split")
        payment_id = split.rows("SELECT id FROM payments_payment LIMIT 1")[0][0]
        with override_settings(CONTEXTS_REMOTE={"payments": split.service.url()}):
            remote = _payment_get_ms(payment_id)

    with override_settings(BUS={**settings.BUS, "TRANSPORT": "rabbitmq"}):
        rates = relay_measure(RELAY_EVENTS, RELAY_RAW_EVENTS)

    print(f"{'payments.payment_get in process':<44} p50 {local[0]:7.2f} ms   p99 {local[1]:7.2f} ms")
    print(f"{'payments.payment_get over HTTP':<44} p50 {remote[0]:7.2f} ms   p99 {remote[1]:7.2f} ms")
    print(f"{'raw kombu, a confirm per message':<44} {rates['kombu']:9.1f} msg/s ({rates['raw_events']})")
    print(f"{'relay: claim, publish, confirm, mark':<44} {rates['relay']:9.1f} msg/s ({rates['events']})")
    print("--")
    sagas, accepted = apart["saga_rate"] / mono["saga_rate"], apart["rate"] / mono["rate"]
    print(f"{'split ÷ monolith, sagas completed/s':<44} {sagas:6.2f}   (expected < 1)")
    print(f"{'split ÷ monolith, checkouts accepted/s':<44} {accepted:6.2f}")
    print(f"{'extra p99 per remote hop (payment_get)':<44} {remote[1] - local[1]:6.2f} ms")
    print(ratio_line("relay ÷ raw kombu with confirms", rates["relay"] / rates["kombu"], RELAY_TARGET))


if __name__ == "__main__":
    main()
