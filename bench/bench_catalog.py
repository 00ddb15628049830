"""make bench-catalog: the storefront listing and detail under gunicorn against 100,000 products, their
ratio to bare DRF endpoints over the same table, deep pages and the unfiltered first page; and
reserve+release pairs/s through the catalog api versus a raw psycopg loop running the same statements,
with pgbench's TPC-B printed for scale. Every ratio's two sides are measured in the same run, in
alternating rounds, so a busy neighbour on the machine slows both alike.

Data lives in its own database (BENCH_CATALOG_DB, default shop_bench_catalog), loaded once with COPY
and reused while it still holds the expected products; pgbench gets a scratch database of its own.
"""

import functools
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    LoadResult,
    database_url,
    ensure_database,
    gunicorn,
    load,
    ratio_line,
    request,
)

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "100000"))
DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
BENCH_DB = os.environ.get("BENCH_CATALOG_DB", "shop_bench_catalog")
PGBENCH_DB = os.environ.get("BENCH_PGBENCH_DB", "shop_bench_pgbench")
CALLERS = 4
# 5 roots x 5 children x 4 leaves: a leaf holds PRODUCTS / 100 products, a mid-level node 4 times that.
ROOTS, CHILDREN, LEAVES = 5, 5, 4


_server_url = database_url


def _conninfo(db: str) -> str:
    return _server_url(db).replace("postgres://", "postgresql://", 1)


def _environment() -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.catalog_settings",
        "DATABASE_URL": _server_url(BENCH_DB),
        "LOG_LEVEL": "WARNING",
        # Measure the endpoints, not the rate limiter refusing a load generator on loopback.
        "RATELIMIT_ENABLE": "false",
    }
    os.environ.update(env)
    return env


# --- data ---------------------------------------------------------------------------------------------


def _load_data() -> None:
    """100,000 products in a 3-level tree, each with stock, via COPY. Skipped when already loaded."""
    import psycopg

    with psycopg.connect(_conninfo(BENCH_DB), autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM catalog_product").fetchone()[0]
        if count == PRODUCTS:
            print(f"reusing {count} products in {BENCH_DB}")
            return
        started = time.perf_counter()
        conn.execute(
            "TRUNCATE catalog_movement, catalog_reservationline, catalog_reservation, catalog_stock, "
            "catalog_product, catalog_category RESTART IDENTITY CASCADE"
        )
        categories, leaves, cid = [], [], 0
        for r in range(ROOTS):
            cid += 1
            root = (cid, f"dept-{r}", f"Department {r}", None, f"dept-{r}/")
            categories.append(root)
            for c in range(CHILDREN):
                cid += 1
                mid = (cid, f"aisle-{r}-{c}", f"Aisle {r}.{c}", root[0], f"{root[4]}aisle-{r}-{c}/")
                categories.append(mid)
                for leaf in range(LEAVES):
                    cid += 1
                    slug = f"shelf-{r}-{c}-{leaf}"
                    categories.append((cid, slug, f"Shelf {r}.{c}.{leaf}", mid[0], f"{mid[4]}{slug}/"))
                    leaves.append(cid)
        with conn.cursor() as cur:
            with cur.copy("COPY catalog_category (id, slug, name, parent_id, path) FROM STDIN") as copy:
                for row in categories:
                    copy.write_row(row)
            rng = random.Random(42)
            with cur.copy(
                "COPY catalog_product (sku, name, slug, description, price, currency, category_id, "
                "is_active, attributes, images, created_at, updated_at) FROM STDIN"
            ) as copy:
                for i in range(PRODUCTS):
                    copy.write_row(
                        (
                            f"SKU-{i:06}",
                            f"Product {i}",
                            f"product-{i}",
                            f"Description of product {i}",
                            f"{rng.randint(100, 99999) / 100:.2f}",
                            "EUR",
                            leaves[i % len(leaves)],
                            True,
                            '{"colour": "blue"}',
                            f'["https://images.example.com/{i}.jpg"]',
                            "2026-01-01 00:00:00+00:00",
                            "2026-01-01 00:00:00+00:00",
                        )
                    )
            with cur.copy("COPY catalog_stock (sku, on_hand, reserved, updated_at) FROM STDIN") as copy:
                for i in range(PRODUCTS):
                    copy.write_row((f"SKU-{i:06}", 1_000_000, 0, "2026-01-01 00:00:00+00:00"))
            cur.execute(
                "INSERT INTO catalog_movement (sku, kind, on_hand_delta, reserved_delta, on_hand_after, "
                "reserved_after, reservation_key, actor, reason, created_at) "
                "SELECT sku, 'receipt', on_hand, 0, on_hand, 0, '', 'bench', 'initial stock', now() "
                "FROM catalog_stock"
            )
            cur.execute("SELECT setval('catalog_category_id_seq', %s)", (cid,))
        conn.execute("VACUUM ANALYZE")
        print(f"loaded {PRODUCTS} products in {time.perf_counter() - started:.1f}s")


def _category_ids() -> tuple[int, str, str]:
    import psycopg

    with psycopg.connect(_conninfo(BENCH_DB)) as conn:
        leaf_id, leaf_slug = conn.execute(
            "SELECT id, slug FROM catalog_category WHERE slug = 'shelf-2-2-1'"
        ).fetchone()
    return leaf_id, leaf_slug, "aisle-2-2"


# --- reserve+release pairs: through the api, and the same statements from a raw psycopg loop -----------


def _api_pairs(api, rng: random.Random, seed: int, seconds: float) -> tuple[int, int]:
    pairs = errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        key = f"bench-{seed}-{pairs}-{time.time_ns()}"
        sku = f"SKU-{rng.randrange(1000):06}"
        try:
            api.stock_reserve(key=key, lines=[api.StockLine(sku=sku, quantity=1)], ttl=300)
            api.stock_release(key=key)
            pairs += 1
        except Exception:
            errors += 1
    return pairs, errors


# The statements one single-SKU reserve+release pair runs through the api on PostgreSQL, in order, as
# its services send them (contexts.catalog.sql's templates rendered, then what the ORM and the outbox
# write): two transactions of four statements each. The loop below sends them with psycopg's client-side
# binding, as Django does, and builds the same outbox payloads, but runs none of the service code.
_RESERVE = (
    'WITH claim AS (INSERT INTO "catalog_reservation" ("key", "status", "expires_at", "created_at",'
    ' "updated_at") VALUES (%s, %s, %s, %s, %s) ON CONFLICT ("key") DO NOTHING RETURNING "id"),'
    ' taken AS (UPDATE "catalog_stock" SET "reserved" = "reserved" + %s, "updated_at" = %s'
    ' WHERE "sku" = %s AND "on_hand" - "reserved" >= %s AND EXISTS (SELECT 1 FROM "catalog_product"'
    ' WHERE "catalog_product"."sku" = "catalog_stock"."sku" AND "catalog_product"."is_active" = %s)'
    ' AND EXISTS (SELECT 1 FROM claim) RETURNING "on_hand", "reserved")'
    ' SELECT claim."id", taken."on_hand", taken."reserved" FROM claim LEFT JOIN taken ON TRUE'
)
_INSERT_LINE = (
    'INSERT INTO "catalog_reservationline" ("reservation_id", "sku", "quantity") VALUES (%s, %s, %s)'
    ' RETURNING "catalog_reservationline"."id"'
)
_INSERT_MOVEMENT = (
    'INSERT INTO "catalog_movement" ("sku", "kind", "on_hand_delta", "reserved_delta", "on_hand_after",'
    ' "reserved_after", "reservation_key", "actor", "reason", "created_at")'
    ' VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING "catalog_movement"."id"'
)
_INSERT_OUTBOX = (
    'INSERT INTO "integration_outboxmessage" ("id", "type", "version", "source", "occurred_at",'
    ' "correlation_id", "causation_id", "payload", "created_at", "dispatched_at")'
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_RELEASE = (
    'WITH ended AS (UPDATE "catalog_reservation" SET "status" = %s, "updated_at" = %s'
    ' WHERE "key" = %s AND "status" = %s RETURNING "id", "expires_at")'
    ' SELECT ended."id", ended."expires_at", line."sku", line."quantity" FROM ended'
    ' LEFT JOIN "catalog_reservationline" line ON line."reservation_id" = ended."id" ORDER BY line."sku"'
)
_SHIFT = (
    'UPDATE "catalog_stock" SET "on_hand" = "on_hand" + %s, "reserved" = "reserved" + %s, "updated_at" = %s'
    ' WHERE "sku" = %s RETURNING "on_hand", "reserved"'
)


def _raw_pairs(conn, rng: random.Random, seed: int, seconds: float) -> tuple[int, int]:
    import datetime as dt
    import uuid

    from psycopg.types.json import Jsonb

    def outbox(cur, event_type: str, payload: dict, now: dt.datetime) -> None:
        cur.execute(
            _INSERT_OUTBOX,
            (uuid.uuid4(), event_type, 1, "catalog", now, uuid.uuid4().hex, "", Jsonb(payload), now, None),
        )

    pairs = errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        key = f"raw-{seed}-{pairs}-{time.time_ns()}"
        sku = f"SKU-{rng.randrange(1000):06}"
        lines = [{"sku": sku, "quantity": 1}]
        try:
            with conn.cursor() as cur:
                now = dt.datetime.now(dt.UTC)
                expires_at = now + dt.timedelta(seconds=300)
                cur.execute(_RESERVE, (key, "active", expires_at, now, now, 1, now, sku, 1, True))
                reservation_id, on_hand, reserved = cur.fetchone()
                cur.execute(_INSERT_LINE, (reservation_id, sku, 1))
                cur.execute(
                    _INSERT_MOVEMENT,
                    (sku, "reservation", 0, 1, on_hand, reserved, key, "service", "reserved", now),
                )
                payload = {"key": key, "lines": lines, "expires_at": expires_at.isoformat()}
                outbox(cur, "catalog.StockReserved.v1", payload, now)
                conn.commit()
                now = dt.datetime.now(dt.UTC)
                cur.execute(_RELEASE, ("released", now, key, "active"))
                ended = cur.fetchall()
                cur.execute(_SHIFT, (0, -ended[0][3], now, sku))
                on_hand, reserved = cur.fetchone()
                cur.execute(
                    _INSERT_MOVEMENT,
                    (sku, "release", 0, -1, on_hand, reserved, key, "service", "released", now),
                )
                outbox(cur, "catalog.StockReleased.v1", {"key": key, "lines": lines}, now)
                conn.commit()
            pairs += 1
        except Exception:
            conn.rollback()
            errors += 1
    return pairs, errors


def _pairs_worker(kind: str, seconds: float, seed: int, start, queue) -> None:
    rng = random.Random(seed)
    if kind == "raw":
        import psycopg

        conn = psycopg.connect(_conninfo(BENCH_DB), cursor_factory=psycopg.ClientCursor)
        run = functools.partial(_raw_pairs, conn)
    else:
        import django

        # As in production: no per-query debug bookkeeping.
        os.environ["DEBUG"] = "false"
        os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
        django.setup()
        from contexts.catalog import api

        run = functools.partial(_api_pairs, api)
    # A short warm-up (connection, imports, caches), then wait for every caller to be ready.
    run(rng, seed + 1000, 1.0)
    start.wait()
    queue.put(run(rng, seed, seconds))


def run_callers(worker, first_arg, seconds: float) -> tuple[int, int, float]:
    """(pairs, errors, seconds) of CALLERS spawned processes running `worker(first_arg, seconds, index,
    start, queue)` at once; each puts its (pairs, errors) on the queue. The clock starts when all of them
    have started up and warmed up (a barrier releases them together), so spawning processes and
    django.setup() are not counted."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start = ctx.Barrier(CALLERS + 1)
    procs = [ctx.Process(target=worker, args=(first_arg, seconds, i, start, queue)) for i in range(CALLERS)]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    started = time.perf_counter()
    results = [queue.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return sum(r[0] for r in results), sum(r[1] for r in results), elapsed


def _pairs(kind: str, seconds: float) -> tuple[int, int, float]:
    """Reserve+release through the api ("api") or the raw loop ("raw"), CALLERS processes at once."""
    return run_callers(_pairs_worker, kind, seconds)


def _reserve_release(seconds: float, rounds: int = 2) -> dict[str, tuple[float, int]]:
    """Pairs/s and errors through the api and through the raw loop, in alternating rounds."""
    totals = {kind: [0, 0, 0.0] for kind in ("api", "raw")}
    for _ in range(rounds):
        for kind, total in totals.items():
            pairs, errors, elapsed = _pairs(kind, seconds / rounds)
            total[0] += pairs
            total[1] += errors
            total[2] += elapsed
    return {kind: (pairs / elapsed, errors) for kind, (pairs, errors, elapsed) in totals.items()}


def _pgbench(seconds: int) -> float:
    ensure_database(_server_url(PGBENCH_DB))
    url = _server_url(PGBENCH_DB)
    subprocess.run(["pgbench", "-i", "-q", "-s", str(CALLERS), url], check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", "-c", str(CALLERS), "-j", "2", "-T", str(seconds), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    if not match:
        raise SystemExit(f"could not read pgbench's TPS from:\n{out}")
    return float(match.group(1))


def _interleaved(port: int, *endpoints: list[str], rounds: int = 4) -> list[LoadResult]:
    """Measure endpoints (each a list of paths) in alternating short rounds, so a busy neighbour on the
    machine slows them alike and their ratios stay meaningful. p99 is the worst round's."""
    results: list[list[LoadResult]] = [[] for _ in endpoints]
    for _ in range(rounds):
        for i, paths in enumerate(endpoints):
            results[i].append(load(port, paths, duration=DURATION / rounds, warmup=0.5))

    def merge(rs: list[LoadResult]) -> LoadResult:
        return LoadResult(
            requests=sum(r.requests for r in rs),
            errors=sum(r.errors for r in rs),
            seconds=sum(r.seconds for r in rs),
            p50_ms=sorted(r.p50_ms for r in rs)[len(rs) // 2],
            p99_ms=max(r.p99_ms for r in rs),
        )

    return [merge(rs) for rs in results]


# --- main ---------------------------------------------------------------------------------------------


def main() -> None:
    env = _environment()
    ensure_database(_server_url(BENCH_DB))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    _load_data()
    # The tree was written with COPY, past the services: drop any subtree an earlier run cached.
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from contexts.catalog.services import category_tree_changed; category_tree_changed()",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    leaf_id, leaf_slug, aisle = _category_ids()
    detail_paths = [f"/api/v1/products/SKU-{i * 491 % PRODUCTS:06}/" for i in range(200)]
    bare_detail_paths = [p.replace("/api/v1/", "/bench/bare/") for p in detail_paths]

    print(
        f"\ncatalog benchmark: {PRODUCTS} products, gunicorn 2 workers, 4 clients, "
        f"{DURATION:.0f}s per figure\n"
    )
    with gunicorn(workers=2, env=env) as port:
        status, _ = request(port, "GET", f"/api/v1/products/?category={leaf_slug}&ordering=price&page=20")
        assert status == 200, status
        leaf_page = f"/api/v1/products/?category={leaf_slug}&ordering=price&page=20"
        ours_list, bare_list, first_page = _interleaved(
            port, [leaf_page], [f"/bench/bare/products/?category={leaf_id}&page=20"], ["/api/v1/products/"]
        )
        ours_aisle = load(
            port, [f"/api/v1/products/?category={aisle}&ordering=price&page=20"], duration=DURATION
        )
        ours_detail, bare_detail = _interleaved(port, detail_paths, bare_detail_paths)
        page_1, page_2000 = _interleaved(
            port, ["/api/v1/products/?ordering=price&page=1"], ["/api/v1/products/?ordering=price&page=2000"]
        )

    print(ours_list.line(f"list ?category={leaf_slug}&ordering=price p20"))
    print(bare_list.line("bare DRF list, same rows, p20"))
    print(first_page.line("list, no filter, first page"))
    print(ours_aisle.line(f"list ?category={aisle} (4 shelves) p20"))
    print(ours_detail.line("product detail (ETag)"))
    print(bare_detail.line("bare DRF detail"))
    print(page_1.line("list ?ordering=price page 1"))
    print(page_2000.line("list ?ordering=price page 2,000"))
    print()
    print(ratio_line("list / bare list (req/s)", ours_list.rps / bare_list.rps, 0.7))
    print(ratio_line("unfiltered first page / bare list (req/s)", first_page.rps / bare_list.rps, 0.7))
    print(ratio_line("detail / bare list (req/s)", ours_detail.rps / bare_list.rps, 0.7))
    print(ratio_line("detail / bare detail (req/s)", ours_detail.rps / bare_detail.rps, 0.7))
    print(f"{'p99 page 2,000 / page 1 (offset x2000)':<44} {page_2000.p99_ms / page_1.p99_ms:6.2f}")

    pairs = _reserve_release(DURATION)
    tps = _pgbench(int(DURATION))
    (api_rate, api_errors), (raw_rate, raw_errors) = pairs["api"], pairs["raw"]
    print()
    for label, rate, errors in (
        ("reserve+release pairs/s via api.py", api_rate, api_errors),
        ("same statements, raw psycopg loop", raw_rate, raw_errors),
    ):
        print(f"{label:<44} {rate:9.1f}   ({CALLERS} callers, {errors} errors)")
    print(f"{'pgbench TPC-B tps (for scale)':<44} {tps:9.1f}   ({CALLERS} clients, -j 2, scale {CALLERS})")
    print(ratio_line("api pairs/s / raw loop pairs/s", api_rate / raw_rate, 0.6))
    print(f"{'api pairs/s / pgbench tps':<44} {api_rate / tps:6.2f}")


if __name__ == "__main__":
    main()
