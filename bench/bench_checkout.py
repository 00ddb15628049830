"""make bench-checkout: storefront checkouts against gunicorn (2 workers) with a Celery worker of 2
processes, on PostgreSQL and RabbitMQ, and two baselines measured in the same run.

Phases, each on the same servers:
1. BENCH_CLIENTS storefront clients (default 4, each its own customer) post checkouts for
   BENCH_SECONDS (default 10), closed loop, a fresh Idempotency-Key each: accepted checkouts (202)/s
   with p50 and p99. The worker runs the sagas meanwhile; the run waits until every one has settled:
   sagas completed/s (first acceptance to last ready_to_ship) and time to ready_to_ship, p50 and p99.
2. The same number of bare Celery chains of one-insert tasks, as many tasks as the saga has steps, sent
   at once to the same worker: chains/s. Ratio sagas/s ÷ chains/s, target at least 0.5.
3. The same clients against a bare DRF endpoint (same middleware, JWT, throttle) doing one transaction
   of `SELECT … FOR UPDATE` and an insert: p99. Ratio checkout p99 ÷ bare p99, target at most 3.

Data lives in its own database (BENCH_CHECKOUT_DB, default shop_bench_checkout), emptied every run.
"""

import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url, ensure_database, gunicorn, ratio_line  # noqa: E402

BENCH_DB = os.environ.get("BENCH_CHECKOUT_DB", "shop_bench_checkout")
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
SKUS = [f"BENCH-{i:02d}" for i in range(20)]
ADDRESS = {
    "full_name": "Bench",
    "line1": "1 Load St",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
SAGA_TARGET, LATENCY_TARGET = 0.5, 3.0


def _environment(settings_module: str = "bench.checkout_settings") -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url(BENCH_DB),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "CELERY_SKIP_CHECKS": "1",
        "RATELIMIT_ENABLE": "false",
        "JWT_ACCESS_TTL_SECONDS": "3600",
        "SECURE_SSL_REDIRECT": "false",
    }
    env.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
    os.environ.update(env)
    return env


def _prepare(env: dict) -> list[str]:
    """Fresh tables, products with ample stock, and a token per client (each its own customer)."""
    ensure_database(env["DATABASE_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    from django.db import connection
    from rest_framework_simplejwt.tokens import AccessToken

    from contexts.catalog import services as catalog
    from contexts.catalog.models import Movement
    from contexts.orders.models import Cart
    from integration.tokens import user_tokens_revoke

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orders_order, orders_cart, catalog_product, catalog_stock, catalog_reservation, "
            "catalog_movement, payments_payment, payments_sandboxcharge, payments_sandboxoperation, "
            "shipping_shipment, integration_outboxmessage, integration_delivery, integration_inboxrecord, "
            "integration_idempotencykey CASCADE"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_chain_step (chain uuid, step int, at timestamptz DEFAULT now())"
        )
        cursor.execute("TRUNCATE bench_chain_step")
    for sku in SKUS:
        catalog.product_create(sku=sku, name=f"Bench {sku}", price="12.50", currency="EUR", category=None)
        catalog.stock_adjust(
            sku=sku, delta=1_000_000, reason="bench", actor="bench", kind=Movement.Kind.RECEIPT
        )
    tokens = []
    for _ in range(CLIENTS):
        user_id = uuid.uuid4()
        user_tokens_revoke(user_id=user_id, valid_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        Cart.objects.create(user_id=user_id)  # the bare endpoint locks it
        token = AccessToken()
        token["user_id"], token["roles"] = str(user_id), ["customer"]
        tokens.append(str(token))
    return tokens


def _client(port, path, token, body_of, duration, start, queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rng = random.Random()
    samples = []
    start.wait()
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        body = json.dumps(body_of(rng)).encode()
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status, payload = 0, b""
        elapsed = time.perf_counter() - started
        order_id = json.loads(payload)["id"] if status in (201, 202) else None
        samples.append((elapsed, status, order_id))
    conn.close()
    queue.put(samples)


def _drive(port: int, path: str, tokens: list[str], body_of, seconds: float):
    """Closed-loop POSTs from one process per token; returns (samples, seconds)."""
    ctx = mp.get_context("fork")
    queue, start = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_client, args=(port, path, t, body_of, seconds, start, queue)) for t in tokens
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    began = time.perf_counter()
    start.set()
    samples = [s for _ in procs for s in queue.get()]
    for p in procs:
        p.join()
    return samples, time.perf_counter() - began


def _checkout_body(rng: random.Random) -> dict:
    return {
        "shipping_address": ADDRESS,
        "payment_method": "pm_sandbox_ok",
        "lines": [{"sku": rng.choice(SKUS), "quantity": 1}],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def _summary(label: str, samples, seconds: float, ok: int) -> tuple[float, float, float]:
    accepted = [s[0] for s in samples if s[1] == ok]
    errors = len(samples) - len(accepted)
    rate = len(accepted) / seconds
    p50, p99 = statistics.median(accepted) * 1000, _percentile(accepted, 0.99) * 1000
    counts = f"({len(accepted)} ok, {errors} other)"
    print(f"{label:<44} {rate:9.1f} /s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   {counts}")
    return rate, p50, p99


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def checkouts(port: int, tokens: list[str], seconds: float, label: str = "") -> dict:
    """Phase 1 against the server on `port`: closed-loop checkouts for `seconds`, then the wait until
    every saga they started has settled. Prints two lines; returns accepted checkouts/s (`rate`), their
    p50 and p99 (ms), sagas completed/s (`saga_rate`), the sagas that reached ready_to_ship (`sagas`)
    and their time to ready_to_ship, p50 and p99 (`ready_p50`, `ready_p99`, ms)."""
    from django.db.models import Count

    from contexts.orders.models import Order, OrderStatusChange

    samples, elapsed = _drive(port, "/api/v1/orders/", tokens, _checkout_body, seconds)
    rate, p50, p99 = _summary(f"checkouts accepted (202){label}", samples, elapsed, 202)
    ids = [s[2] for s in samples if s[1] == 202]
    unsettled = Order.objects.filter(id__in=ids, status="pending")
    _wait(lambda: not unsettled.exists(), 600, "every saga to settle")
    outcomes = dict(Order.objects.filter(id__in=ids).values_list("status").annotate(n=Count("id")))
    ready = OrderStatusChange.objects.filter(order_id__in=ids, status="ready_to_ship").select_related("order")
    spans = sorted((c.at - c.order.created_at).total_seconds() for c in ready)
    first = Order.objects.filter(id__in=ids).order_by("created_at").first().created_at
    last = max(c.at for c in ready)
    saga_rate = len(spans) / (last - first).total_seconds()
    ready_p50, ready_p99 = statistics.median(spans) * 1000, _percentile(spans, 0.99) * 1000
    print(
        f"{'sagas completed (ready_to_ship)' + label:<44} {saga_rate:9.1f} /s   time to ready_to_ship"
        f" p50 {ready_p50:7.0f} ms   p99 {ready_p99:7.0f} ms   {outcomes}"
    )
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "saga_rate": saga_rate,
        "sagas": len(spans),
        "ready_p50": ready_p50,
        "ready_p99": ready_p99,
    }


def main() -> None:
    env = _environment()
    tokens = _prepare(env)
    from celery import chain
    from django.db import connection

    from bench.checkoutbench.tasks import chain_step
    from contexts.orders.saga.definition import ORDER_SAGA_V1
    from tests.worker import WorkerProcess, purge_queues

    steps = len(ORDER_SAGA_V1.steps)
    purge_queues()
    worker = WorkerProcess(concurrency=2, settings_module="bench.checkout_settings", env=env).start()
    try:
        with gunicorn(workers=2, env=env) as port:
            print(
                f"{CLIENTS} clients, {SECONDS:g} s, gunicorn 2 workers, Celery worker -c 2, {steps}-step saga"
            )
            # 1. checkouts, and the sagas they start
            figures = checkouts(port, tokens, SECONDS)
            checkout_p99, saga_rate, chains = figures["p99"], figures["saga_rate"], figures["sagas"]
            # 2. the bare chains
            sent = time.perf_counter()
            for _ in range(chains):
                cid = str(uuid.uuid4())
                chain(*(chain_step.si(cid, i) for i in range(steps))).apply_async()

            def chains_done() -> bool:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM bench_chain_step WHERE step = %s", [steps - 1])
                    return cursor.fetchone()[0] >= chains

            _wait(chains_done, 600, "the bare chains")
            chain_rate = chains / (time.perf_counter() - sent)
            print(
                f"{f'bare Celery chains of {steps} one-insert tasks':<44} {chain_rate:9.1f} /s"
                f"   ({chains} chains)"
            )
            # 3. the bare lock-and-insert endpoint
            bare, bare_seconds = _drive(port, "/bench/bare/lock-insert/", tokens, lambda rng: {}, SECONDS)
            _, _, bare_p99 = _summary("bare DRF SELECT FOR UPDATE + insert", bare, bare_seconds, 201)
            print(ratio_line("sagas/s ÷ bare chains/s", saga_rate / chain_rate, SAGA_TARGET))
            value = checkout_p99 / bare_p99
            verdict = "meets" if value <= LATENCY_TARGET else "ABOVE"
            print(
                f"{'checkout p99 ÷ bare p99':<44} {value:6.2f}   (target <= {LATENCY_TARGET:.2f}: {verdict})"
            )
    finally:
        worker.stop()


if __name__ == "__main__":
    main()
