"""Whole processes: readiness with the database gone, and the embedded default booted from scratch."""

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from tests.processes import Gunicorn

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def _clean_env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING"}, **overrides)
    return env


def test_ready_names_the_database_when_it_is_unreachable_while_health_stays_up():
    # Nothing listens on port 1: every connection attempt is refused.
    server = Gunicorn(_clean_env(DATABASE_URL="postgres://postgres@127.0.0.1:1/shop")).wait_ready()
    try:
        status, _, body = _get(server.url("/health"))
        assert (status, body) == (200, {"status": "ok"})

        status, headers, body = _get(server.url("/ready"))
        assert status == 503
        assert headers["Content-Type"] == "application/problem+json"
        assert body["checks"]["database"]["status"] == "down"
        assert body["checks"]["database"]["error"] == "OperationalError"
        assert "127.0.0.1" not in json.dumps(body)  # connection details stay in the log
        assert "database" in body["detail"]
        assert body["checks"]["cache"]["status"] == "up"
    finally:
        server.stop()


def test_the_embedded_default_boots_serves_and_delivers_events(tmp_path):
    """What `make run` runs: SQLite, eager Celery, local-memory cache, no other service."""
    env = _clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True
    )

    server = Gunicorn(env).wait_ready()
    try:
        status, _, body = _get(server.url("/health"))
        assert status == 200
        status, _, body = _get(server.url("/ready"))
        assert status == 200, body
        assert body["checks"]["broker"]["status"] == "skipped"
        assert body["checks"]["database"]["status"] == "up"
    finally:
        server.stop()

    # Publishing in a transaction delivers to the subscriber right after commit, in-process.
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django.db import transaction
        from integration import bus
        from integration.bus.models import Delivery
        from tests.busapp import handlers
        from tests.busapp.events import Pinged
        from tests.busapp.models import Effect
        handlers.register(flaky=False)
        with transaction.atomic():
            event_id = bus.publish(Pinged(n=1))
            assert Effect.objects.count() == 0
        statuses = sorted(Delivery.objects.filter(message_id=event_id).values_list("status", flat=True))
        print(statuses, Effect.objects.filter(event_id=event_id).count())
        """
    )
    test_env = {**env, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--run-syncdb", "-v0"], cwd=ROOT, env=test_env, check=True
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=test_env, check=True, capture_output=True, text=True
    )
    assert result.stdout.strip().splitlines()[-1] == "['delivered', 'delivered'] 2"


def test_production_serves_the_admin_and_docs_static_files_itself(tmp_path):
    """`make web`: collectstatic, then gunicorn with DEBUG=false serves CSS and the offline docs' JS."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "s" * 60,
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    server = Gunicorn(env).wait_ready()
    try:
        for path in (
            "/static/admin/css/base.css",
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        ):
            with urllib.request.urlopen(server.url(path), timeout=10) as response:
                assert response.status == 200, path
                assert response.read(100)
    finally:
        server.stop()
