"""Liveness and readiness. Liveness checks nothing but the process; readiness checks what serving needs.

Both answer GET and HEAD (RFC 9110 section 9.3.2: HEAD is GET without the body, which the server
drops; load balancers probe with either); any other method is a 405 problem with `Allow: GET, HEAD`.
They are exempt from CSRF, which would otherwise answer a POST with a 403 before the method check.
"""

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from kombu import Connection

from integration.bus import outbox_lag_seconds
from integration.edge.problems import problem_response
from integration.logging import get_logger
from integration.worker import tasks_run_eagerly

log = get_logger(__name__)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "up"


def _broker() -> str:
    if tasks_run_eagerly():
        return "skipped"  # embedded default: tasks run in-process, there is no broker to reach
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "up"


def _cache() -> str:
    key = f"ready:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was written")
    cache.delete(key)
    return "up"


def _outbox() -> str:
    lag = outbox_lag_seconds()
    limit = settings.BUS["READY_MAX_LAG_SECONDS"]
    if lag > limit:
        raise RuntimeError(f"the oldest undispatched event is {lag:.0f}s old (limit {limit:.0f}s)")
    return "up"


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database,
    "broker": _broker,
    "cache": _cache,
    "outbox": _outbox,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            status = check()
            result = {"status": status}
        except Exception as exc:  # a readiness probe reports every failure, it never raises
            # The probe is public: it names the kind of failure; hosts and users go to the log only.
            log.warning("ready.check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
            result = {"status": "down", "error": type(exc).__name__}
            if name == "database":
                # A failed connection must not be reused by the next request of this process.
                connection.close_if_unusable_or_obsolete()
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


_last: tuple[float, dict[str, dict]] | None = None


def cached_checks() -> dict[str, dict]:
    """The checks, run at most once per READY_CACHE_SECONDS per process: /ready is public, and each
    run opens a broker connection, so a flood of probes must not become a flood of connections."""
    global _last
    now = time.monotonic()
    if _last is None or now - _last[0] >= settings.READY_CACHE_SECONDS:
        _last = (now, run_checks())
    return _last[1]


@csrf_exempt
@never_cache
@require_safe
def health(request):
    return JsonResponse({"status": "ok"})


@csrf_exempt
@never_cache
@require_safe
def ready(request):
    checks = cached_checks()
    down = sorted(name for name, r in checks.items() if r["status"] == "down")
    if down:
        return problem_response(
            503, slug="not-ready", detail=f"Not ready: {', '.join(down)} down.", checks=checks
        )
    return JsonResponse({"status": "ready", "checks": checks})
