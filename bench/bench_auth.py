"""make bench-auth: requests/s of an authenticated GET /api/v1/users/me/ under gunicorn, and its ratio
to an unauthenticated endpoint measured in the same run, on the same server.

The baseline is GET /api/v1/categories/: public, and otherwise the same path through the project —
the same middleware, DRF dispatch, the default throttle (its counter in Redis) and one database query
rendered as JSON. So the ratio isolates what authentication adds: the JWT check and the revocation
lookups in Redis (the /users/me/ view's own row read stands against the baseline's query). /health,
which skips DRF, the throttle and the database, is measured too and printed for reference.

The script migrates the database it is pointed at (DATABASE_URL), creates its own user and logs in
through the API. Rate limits are raised for the run so every request is counted but none refused.
Redis is its own database (BENCH_AUTH_CACHE_URL, default db 14), away from test runs that flush theirs.
"""

import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, gunicorn, load, ratio_line, request  # noqa: E402

EMAIL = "bench-auth@example.com"
PASSWORD = "bench-auth-Secret-2024"
DURATION = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
TARGET = 0.6

# Its own Redis database: a test run elsewhere flushing the shared one would skew the counters.
CACHE_URL = os.environ.get("BENCH_AUTH_CACHE_URL", "redis://127.0.0.1:6379/14")

SERVER_ENV = {
    "CACHE_URL": CACHE_URL,
    "RATE_LIMIT_API_USER": "100000000/m",
    "RATE_LIMIT_API_ANON": "100000000/m",
    "RATE_LIMIT_LOGIN_PER_IP": "1000/m",
    "RATE_LIMIT_LOGIN_PER_EMAIL": "1000/m",
    "JWT_ACCESS_TTL_SECONDS": "900",
}


def _prepare_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        ensure_database(url)
    os.environ["CACHE_URL"] = CACHE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    user = user_model.objects.filter(email=EMAIL).first() or user_model.objects.create_user(EMAIL)
    user.set_password(PASSWORD)
    user.is_active = True
    user.tokens_valid_after = None
    user.save()


def _login(port: int) -> str:
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    status, raw = request(port, "POST", "/api/v1/auth/token/", body, {"Content-Type": "application/json"})
    if status != 200:
        raise SystemExit(f"login failed: {status} {raw[:200]!r}")
    return json.loads(raw)["access"]


def main() -> None:
    _prepare_database()
    with gunicorn(workers=2, env=SERVER_ENV) as port:
        access = _login(port)
        auth = {"Authorization": f"Bearer {access}"}
        status, raw = request(port, "GET", "/api/v1/users/me/", headers=auth)
        if status != 200:
            raise SystemExit(f"GET /api/v1/users/me/ answered {status}: {raw[:200]!r}")

        def run(path: str, headers: dict | None = None):
            return load(port, [path], headers=headers, duration=DURATION, concurrency=CONCURRENCY)

        health = run("/health")
        # Alternate the pair in rounds: a burst of load from elsewhere on the machine then hits both.
        rounds = [(run("/api/v1/categories/"), run("/api/v1/users/me/", auth)) for _ in range(ROUNDS)]

    print(
        f"bench-auth: gunicorn (2 workers), {CONCURRENCY} closed-loop clients, "
        f"{ROUNDS} rounds of {DURATION:.0f}s per endpoint"
    )
    print("  " + health.line("GET /health (no DRF, no DB; reference)"))
    for i, (public, me) in enumerate(rounds, 1):
        print("  " + public.line(f"[{i}] GET /api/v1/categories/ (public, 1 query)"))
        print("  " + me.line(f"[{i}] GET /api/v1/users/me/ (JWT, 1 query)"))
    results = [health, *(r for pair in rounds for r in pair)]
    if any(r.errors for r in results):
        print("  WARNING: some requests did not answer 200; the figures are not comparable")
    ratio = statistics.median(me.rps / public.rps for public, me in rounds)
    best_me = max(me.rps for _, me in rounds)
    print("  " + ratio_line("ratio users/me / categories (median of rounds)", ratio, TARGET))
    print(f"  {'ratio users/me / health (reference)':<44} {best_me / health.rps:6.2f}")


if __name__ == "__main__":
    main()
