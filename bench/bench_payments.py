"""make bench-payments: authorize+capture pairs/s through `contexts.payments.api` with the sandbox
provider on PostgreSQL, 4 caller processes, against a baseline measured in the same run: two bare ORM
insert transactions per pair (a payment row, then a transaction-log row), from 4 processes too.

A pair through the api is what a saga's authorize and confirm steps cost payments: two transactions,
each locking the payment row for its provider call, writing the sandbox's side of the wire, the
transaction log and an outbox event. The baseline is the least two durable transactions can cost from
Django, so the ratio says what the payments code adds on top of two commits. Rounds alternate (ABBA)
so that a busy neighbour on the machine slows both sides alike; each round's callers are released
together by a barrier after a one-second warm-up.

Data lives in its own database (BENCH_PAYMENTS_DB, default shop_bench_payments), emptied at the start
of every run. BENCH_SECONDS (per round and side, default 5) and BENCH_ROUNDS (default 4) set the length.
"""

import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_catalog import CALLERS, run_callers  # noqa: E402
from bench.common import database_url, ensure_database, ratio_line  # noqa: E402

BENCH_DB = os.environ.get("BENCH_PAYMENTS_DB", "shop_bench_payments")
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
TARGET = 0.5
AMOUNT = Decimal("25.00")
USER_ID = uuid.UUID("00000000-0000-4000-8000-0000000be4c4")
TABLES = (
    "payments_providercall, payments_refund, payments_payment, payments_sandboxoperation, "
    "payments_sandboxcharge, integration_delivery, integration_outboxmessage"
)


def _environment() -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(BENCH_DB),
        # As in production: no per-query debug bookkeeping, no codec round trip on in-process calls.
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    env.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
    os.environ.update(env)
    return env


# --- one pair each way ----------------------------------------------------------------------------------


def _request() -> dict:
    """An authorize's fields, as the api takes them and as a payment row holds them."""
    return {
        "order_id": uuid.uuid4(),
        "user_id": USER_ID,
        "amount": AMOUNT,
        "currency": "EUR",
        "payment_method": "pm_sandbox_ok",
    }


def _api_pair(api, key: str) -> None:
    payment = api.payment_authorize(key=f"{key}:authorize", **_request())
    if api.payment_capture(key=f"{key}:capture", payment_id=payment.id).status != "captured":
        raise AssertionError(f"payment {payment.id} was not captured")


def _orm_pair(key: str) -> None:
    from django.db import transaction

    from contexts.payments.models import Payment, ProviderCall

    with transaction.atomic():
        payment = Payment.objects.create(key=f"{key}:authorize", provider="sandbox", **_request())
    with transaction.atomic():
        ProviderCall.objects.create(
            payment=payment, kind="capture", key=f"{key}:capture", amount=AMOUNT, outcome="approved"
        )


def _pairs(pair, prefix: str, seconds: float) -> tuple[int, int]:
    pairs = errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            pair(f"{prefix}-{pairs}-{errors}")
            pairs += 1
        except Exception:
            errors += 1
    return pairs, errors


def _worker(kind: str, seconds: float, index: int, start, queue) -> None:
    import django

    django.setup()
    from contexts.payments import api

    pair = _orm_pair if kind == "orm" else (lambda key: _api_pair(api, key))
    prefix = f"{kind}-{os.getpid()}-{time.time_ns()}"
    _pairs(pair, f"{prefix}-warm", 1.0)
    start.wait()
    queue.put(_pairs(pair, prefix, seconds))


# --- main ---------------------------------------------------------------------------------------------


def _prepare(env: dict) -> None:
    import psycopg

    ensure_database(database_url(BENCH_DB))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    conninfo = database_url(BENCH_DB).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        conn.execute("VACUUM ANALYZE")


def _anatomy(pairs: int = 50) -> dict[str, float]:
    """One pair each way in this process, alone: statements sent, wall milliseconds per pair, and the
    part of an api pair spent inside the sandbox adapter (the provider's side of the wire, which a real
    provider would spend on its own machines). Indicative: one process, no contention."""
    import django
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    django.setup()
    from contexts.payments import api
    from contexts.payments.providers import provider

    adapter, in_adapter = provider(), [0.0]

    def timed(call):
        def wrapper(**kwargs):
            started = time.perf_counter()
            try:
                return call(**kwargs)
            finally:
                in_adapter[0] += time.perf_counter() - started

        return wrapper

    adapter.authorize, adapter.capture = timed(adapter.authorize), timed(adapter.capture)
    figures = {}
    for kind, pair in (("api", lambda key: _api_pair(api, key)), ("orm", _orm_pair)):
        prefix = f"anatomy-{kind}-{time.time_ns()}"
        _pairs(pair, f"{prefix}-warm", 0.5)
        with CaptureQueriesContext(connection) as queries:
            pair(f"{prefix}-count")
        figures[f"{kind}_statements"] = len(queries)
        in_adapter[0] = 0.0
        started = time.perf_counter()
        for n in range(pairs):
            pair(f"{prefix}-{n}")
        figures[f"{kind}_ms"] = (time.perf_counter() - started) * 1000 / pairs
        figures[f"{kind}_adapter_ms"] = in_adapter[0] * 1000 / pairs
    return figures


def _check() -> str:
    """Every api pair ended captured, with one sandbox charge each."""
    from contexts.payments.models import Payment, SandboxCharge

    captured = Payment.objects.filter(status="captured").count()
    charges = SandboxCharge.objects.count()
    stray = Payment.objects.exclude(status__in=("captured", "pending")).count()
    if captured != charges or stray or SandboxCharge.objects.exclude(status="captured").exists():
        raise SystemExit(f"inconsistent: {captured} captured payments, {charges} charges, {stray} other")
    return f"{captured} payments captured, {charges} sandbox charges, none left in another state"


def main() -> None:
    env = _environment()
    _prepare(env)
    anatomy = _anatomy()
    print(
        f"\npayments benchmark: {CALLERS} caller processes, {ROUNDS} rounds of {SECONDS:.0f}s per side, "
        f"sandbox provider, database {BENCH_DB}\n"
    )
    totals = {kind: [0, 0, 0.0] for kind in ("api", "orm")}
    for n in range(ROUNDS):
        for kind in ("api", "orm") if n % 2 == 0 else ("orm", "api"):
            pairs, errors, elapsed = run_callers(_worker, kind, SECONDS)
            total = totals[kind]
            total[0], total[1], total[2] = total[0] + pairs, total[1] + errors, total[2] + elapsed
            print(f"round {n + 1}  {kind:<4} {pairs / elapsed:9.1f} pairs/s  ({errors} errors)", flush=True)
    (api_pairs, api_errors, api_s), (orm_pairs, orm_errors, orm_s) = totals["api"], totals["orm"]
    api_rate, orm_rate = api_pairs / api_s, orm_pairs / orm_s
    print()
    print(f"{'authorize+capture pairs/s via api.py':<44} {api_rate:9.1f}   ({api_errors} errors)")
    print(f"{'two bare ORM insert transactions, pairs/s':<44} {orm_rate:9.1f}   ({orm_errors} errors)")
    print(
        f"{'one caller alone, ms per pair':<44} {anatomy['api_ms']:9.1f} / {anatomy['orm_ms']:.1f}"
        f"   (api / baseline; {anatomy['api_adapter_ms']:.1f} ms of the api pair inside the sandbox adapter)"
    )
    print(
        f"{'statements per pair':<44} {anatomy['api_statements']:9d} / {anatomy['orm_statements']}"
        "   (api / baseline, BEGIN and COMMIT included)"
    )
    print(ratio_line("api pairs/s / baseline pairs/s", api_rate / orm_rate, TARGET))
    print(_check())


if __name__ == "__main__":
    main()
