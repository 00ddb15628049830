"""Wiring: Celery's reliability settings and routing, the bus's start-up wiring, and the production
settings' deploy checks."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CONTEXT_QUEUES = {"integration", "users", "catalog", "orders", "payments", "shipping", "notifications"}


def test_celery_is_configured_for_at_least_once_work():
    conf = current_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    # The broker in tests is the real one; only the embedded default runs tasks eagerly.
    assert conf.task_always_eager is False
    assert conf.broker_url.startswith(("amqp://", "redis://"))
    assert conf.broker_transport_options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT


def test_every_project_task_is_named_context_verb_noun_and_routed_to_its_context_queue():
    current_app.loader.import_default_modules()
    names = sorted(n for n in current_app.tasks if not n.startswith("celery."))
    project = [n for n in names if n.split(".")[0] in CONTEXT_QUEUES]
    assert "integration.deliver_event" in project and "integration.sweep_outbox" in project
    for name in project:
        assert re.fullmatch(r"[a-z]+\.[a-z]+(_[a-z]+)+", name), name
        route = current_app.amqp.router.route({}, name)
        assert route["queue"].name == name.split(".")[0], (name, route)
    declared = {q.name for q in settings.CELERY_TASK_QUEUES}
    assert declared >= CONTEXT_QUEUES
    assert all(q.durable for q in settings.CELERY_TASK_QUEUES)


def test_the_bus_does_not_import_its_task_module_even_lazily_or_indirectly():
    """The relay's enqueue function is handed to the bus at start-up (integration's ready()), so the
    bus package never imports integration.tasks, which imports it: no import cycle."""
    import grimp

    graph = grimp.build_graph("integration", cache_dir=None)  # every import statement, in functions too
    chain = graph.find_shortest_chain(
        importer="integration.bus", imported="integration.tasks", as_packages=True
    )
    assert chain is None, f"the bus imports its tasks: {' -> '.join(chain)}"
    assert graph.direct_import_exists(importer="integration.tasks", imported="integration.bus.core")


def test_the_relay_is_wired_once_at_start_up_in_every_process():
    # A fresh process, as a worker or web server starts: django.setup() runs integration's ready().
    code = (
        "import django; django.setup();"
        "from integration import bus, tasks;"
        "print(bus.enqueue_function() is tasks.enqueue_delivery)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_beat_schedules_the_outbox_sweep():
    entry = settings.CELERY_BEAT_SCHEDULE["integration.sweep_outbox"]
    assert entry["task"] == "integration.sweep_outbox"
    assert 0 < float(entry["schedule"]) <= 60


def _deploy_check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_the_deploy_checks_with_real_secrets():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "shop.example",
        "PAYMENTS_WEBHOOK_SECRET": secrets.token_hex(32),
        "SHIPPING_WEBHOOK_SECRET": secrets.token_hex(32),
        "SERVICE_TOKEN_SECRET": secrets.token_hex(32),
    }
    # The services come from the test environment (PostgreSQL, RabbitMQ, Redis), as in production.
    assert env["DATABASE_URL"].startswith("postgres") and env["CACHE_URL"].startswith("redis")
    result = _deploy_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_checks_refuse_the_embedded_services_in_production():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id in ("integration.E001", "integration.W001", "integration.W002"):
        assert check_id in output, output


def test_deploy_checks_refuse_the_development_signing_key():
    # DEBUG left on by mistake keeps the public development key: the deploy check must catch it.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    env.pop("SECRET_KEY", None)
    env.pop("JWT_SIGNING_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "integration.E002" in result.stdout + result.stderr
    # ...and the public development webhook secrets, with which anyone could forge a provider's callback.
    assert "integration.E003" in result.stdout + result.stderr
    assert "PAYMENTS_WEBHOOK_SECRET" in result.stdout + result.stderr
    assert "SHIPPING_WEBHOOK_SECRET" in result.stdout + result.stderr
    # ...and the public service-token secret, with which anyone could call every context's internal api.
    assert "integration.E005" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false"}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_beat_starts_only_in_the_dev_server_process():
    from integration import embedded

    assert embedded.should_start(["manage.py", "runserver"], {"RUN_MAIN": "true"})
    assert embedded.should_start(["manage.py", "runserver", "--noreload"], {})
    assert not embedded.should_start(["manage.py", "runserver"], {})  # the autoreloader's parent
    assert not embedded.should_start(["manage.py", "migrate"], {"RUN_MAIN": "true"})


@pytest.mark.django_db  # run_due closes stale connections first, as a long-lived thread must
def test_the_embedded_beat_runs_each_periodic_task_when_due(eager_tasks, settings, monkeypatch):
    from integration import embedded

    ran = []
    settings.CELERY_BEAT_SCHEDULE = {
        "a": {"task": "integration.sweep_outbox", "schedule": 10.0},
        "b": {"task": "users.flush_expired_tokens", "schedule": 100.0},
    }
    monkeypatch.setattr(
        current_app.tasks["integration.sweep_outbox"], "apply", lambda **kw: ran.append("sweep")
    )
    monkeypatch.setattr(
        current_app.tasks["users.flush_expired_tokens"], "apply", lambda **kw: ran.append("flush")
    )
    due: dict[str, float] = {}
    assert embedded.run_due(due, 0.0) == []  # first sight schedules, runs nothing
    assert embedded.run_due(due, 10.0) == ["integration.sweep_outbox"]
    assert embedded.run_due(due, 15.0) == []
    assert embedded.run_due(due, 100.0) == ["integration.sweep_outbox", "users.flush_expired_tokens"]
    assert ran == ["sweep", "sweep", "flush"]


@pytest.mark.parametrize(
    ("secret", "check_id"),
    [("", "integration.E004"), (" , ", "integration.E004"), ("short", "integration.W003")],
)
def test_deploy_checks_refuse_an_empty_or_guessable_webhook_secret(secret, check_id):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "shop.example",
        "PAYMENTS_WEBHOOK_SECRET": secret,
        "SHIPPING_WEBHOOK_SECRET": secrets.token_hex(32),
        "SERVICE_TOKEN_SECRET": secrets.token_hex(32),
    }
    result = _deploy_check(env)
    assert result.returncode != 0
    assert check_id in result.stdout + result.stderr
