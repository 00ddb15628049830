"""Liveness and readiness. Liveness checks nothing but the process; readiness checks what serving needs.

Readiness includes each extracted context this process calls (CONTEXTS_REMOTE), as a check named
after its dependency ("context-payments"): the serving process's own readiness for that context,
asked through the resilient client (so an open breaker answers at once). An unreachable context listed
in CONTEXTS_READY_REQUIRED makes the process not ready (503); any other is reported `degraded` and
the process stays ready (200, status "degraded"): what does not need that context still works.

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
from integration.services import remote
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


def _remote_checks() -> dict[str, tuple[Callable[[], str], str]]:
    """{check name: (check, status when it fails)} for each context this process calls over HTTP."""
    required = set(remote.ready_required())
    return {
        remote.dependency(context): (
            lambda context=context: remote.ready_probe(context),
            "down" if context in required else "degraded",
        )
        for context in sorted(remote.remote_contexts())
    }


def run_checks(*, include_remote: bool = True) -> dict[str, dict]:
    """Each check's result; with `include_remote`, the remote contexts' too (integration.edge.internal asks
    for this process's own checks only: a context served here must not wait on its callers)."""
    checks = {name: (check, "down") for name, check in CHECKS.items()}
    if include_remote:
        checks.update(_remote_checks())
    results = {}
    for name, (check, failed) in checks.items():
        started = time.perf_counter()
        try:
            status = check()
            result = {"status": status}
        except Exception as exc:  # a readiness probe reports every failure, it never raises
            # The probe is public: it names the kind of failure; hosts and users go to the log only.
            log.warning("ready.check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
            result = {"status": failed, "error": type(exc).__name__}
            if name == "database":
                # A failed connection must not be reused by the next request of this process.
                connection.close_if_unusable_or_obsolete()
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


_last: dict[bool, tuple[float, dict[str, dict]]] = {}


def cached_checks(*, include_remote: bool = True) -> dict[str, dict]:
    """The checks, run at most once per READY_CACHE_SECONDS per process: /ready is public, and each
    run opens a broker connection, so a flood of probes must not become a flood of connections."""
    now = time.monotonic()
    last = _last.get(include_remote)
    if last is None or now - last[0] >= settings.READY_CACHE_SECONDS:
        last = _last[include_remote] = (now, run_checks(include_remote=include_remote))
    return last[1]


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
    degraded = any(r["status"] == "degraded" for r in checks.values())
    return JsonResponse({"status": "degraded" if degraded else "ready", "checks": checks})
