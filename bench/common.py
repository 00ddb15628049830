"""Shared benchmark tools: run gunicorn on loopback and drive it with a closed-loop HTTP load.

Only 127.0.0.1 is ever a target. The load runs in separate processes (keep-alive http.client
connections), bounded by a duration, and reports requests/s with p50/p99 latency. Ratios between
endpoints are measured in the same run, on the same server, so the machine's speed cancels out.
"""

import http.client
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.processes import Gunicorn  # noqa: E402  (the launcher the tests use)


def database_url(name: str) -> str:
    """DATABASE_URL (the test server's by default) pointed at database `name` on the same server."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop")
    return base.rsplit("/", 1)[0] + "/" + name


def ensure_database(url: str) -> None:
    """CREATE DATABASE for a PostgreSQL URL naming one that is not there yet (benchmarks keep their
    data apart from development and test databases)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    admin = base.replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def gunicorn(*, workers: int = 2, env: dict | None = None):
    """Serve config.wsgi under gunicorn on 127.0.0.1, production settings; yields the port."""
    full_env = {**os.environ, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING"}
    full_env.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
    # The API under test serves no static files; an empty directory keeps WhiteNoise quiet.
    full_env.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="bench-static-"))
    full_env.update(env or {})
    server = Gunicorn(full_env, workers=workers, worker_class="gthread").wait_ready()
    try:
        yield server.port
    finally:
        server.stop()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label:<44} {self.rps:9.1f} req/s   p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms"
            f"   ({self.requests} requests, {self.errors} errors)"
        )


def _client(port, paths, headers, duration, expect, queue):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors = [], 0
    i = 0
    end = time.perf_counter() + duration
    while True:
        started = time.perf_counter()
        if started >= end:
            break
        path = paths[i % len(paths)]
        i += 1
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != expect:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - started)
    conn.close()
    queue.put((latencies, errors))


def load(
    port: int,
    paths: list[str],
    *,
    headers: dict | None = None,
    duration: float = 8.0,
    concurrency: int = 4,
    expect: int = 200,
    warmup: float = 1.0,
) -> LoadResult:
    """Closed-loop GETs over `paths` (round robin) from `concurrency` processes for `duration` s."""
    headers = headers or {}
    if warmup:
        load(port, paths, headers=headers, duration=warmup, concurrency=concurrency, expect=expect, warmup=0)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_client, args=(port, paths, headers, duration, expect, queue))
        for _ in range(concurrency)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for lats, _ in results for lat in lats)
    errors = sum(e for _, e in results)
    if not latencies:
        return LoadResult(0, errors, elapsed, 0.0, 0.0)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return LoadResult(len(latencies), errors, elapsed, statistics.median(latencies) * 1000, p99 * 1000)


def ratio_line(label: str, value: float, target: float) -> str:
    verdict = "meets" if value >= target else "BELOW"
    return f"{label:<44} {value:6.2f}   (target >= {target:.2f}: {verdict})"
