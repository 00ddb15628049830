"""The split topology: payments and notifications extracted into a service of their own, every other
context in the monolith, the same code on both sides and only settings differing.

    monolith (CONTEXTS_LOCAL=users,...,shipping)    payments service (CONTEXTS_LOCAL=payments,notifications)
    gunicorn   (users' api for notifications) <- HTTP -  gunicorn (/internal/payments/)
    celery worker (orders' saga, ...)   - HTTP ->       celery worker
    relay_events, consume_events               relay_events, consume_events
    database: the test database                database: <test database>_payments, migrated by itself
                     \\_______ RabbitMQ (events, tasks) and Redis (breakers) _______/

Each side is placed by CONTEXTS_LOCAL alone (and CONTEXTS_REMOTE, where the contexts it calls are):
its worker runs without -Q and its consumer without --contexts, so the queues, the beat schedule and
the handlers each side runs follow from that one setting; each side migrates its own database.

The test process plays a monolith web process (monolith_settings: its settings are the monolith's, and
it reads the extracted contexts' tables from the service's database through ExtractedContextsRouter).
"""

import contextlib
import json
import subprocess
import sys
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection, connections
from django.db.utils import load_backend
from django.test import override_settings
from kombu import Connection

from integration.bus import rabbitmq, registry
from tests.processes import ROOT, Gunicorn, free_port
from tests.worker import (
    CommandProcess,
    WorkerProcess,
    database_url,
    process_env,
    purge_queues,
    suite_worker_paused,
    wait_for_other_sessions_to_close,
)

EXTRACTED = ("payments", "notifications")
MONOLITH_CONTEXTS = ("users", "catalog", "orders", "shipping")
# The monolith's read timeout on the payments service, seconds (the fault tests inject 5 s of latency).
MONOLITH_PAYMENTS_READ_TIMEOUT = 2.0
# The monolith's contexts that have an api (orders has none): the service reaches them over HTTP.
MONOLITH_APIS = ("users", "catalog", "shipping")
# Both sides: events over RabbitMQ; handlers retry fast and dead-letter after 3 attempts.
BUS_ENV = {
    "BUS_TRANSPORT": "rabbitmq",
    "BUS_MAX_ATTEMPTS": "3",
    "BUS_BACKOFF_BASE_SECONDS": "0.2",
    "BUS_BACKOFF_MAX_SECONDS": "1",
    "BUS_RELAY_IDLE_SECONDS": "0.05",
}


@dataclass
class Side:
    """One deployment: its settings and its processes (web, Celery worker, relay, consumer)."""

    name: str
    env: dict
    port: int
    worker_class: str = "sync"

    def start(self) -> "Side":
        self.web = Gunicorn(
            process_env(extra=self.env), workers=2, worker_class=self.worker_class, port=self.port
        )
        self.worker = WorkerProcess(env=self.env, name=f"{self.name}-worker").start()
        self.relay = CommandProcess(
            "relay_events", env=self.env, ready_text="relay ready", name=f"{self.name}-relay"
        ).start()
        self.consumer = self.consumer_process().start()
        self.web.wait_ready()
        return self

    def consumer_process(self) -> CommandProcess:
        return CommandProcess(
            "consume_events",
            env=self.env,
            ready_text="bus.consumer_ready",
            name=f"{self.name}-consumer",
        )

    def stop_web(self) -> None:
        self.web.stop()

    def restart_web(self) -> None:
        self.web = Gunicorn(
            process_env(extra=self.env), workers=2, worker_class=self.worker_class, port=self.port
        ).wait_ready()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        for proc in ("consumer", "relay", "worker", "web"):
            if hasattr(self, proc):
                getattr(self, proc).stop()


@dataclass
class Split:
    monolith: Side
    service: Side
    database_url: str

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows from the payments service's own database (this process's ORM reads the monolith's)."""
        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1)) as conn:
            return conn.execute(sql, params).fetchall()


def _purge_bus_queues() -> None:
    """Drop events that earlier tests left in the handlers' queues."""
    with Connection(settings.CELERY_BROKER_URL) as conn:
        channel = conn.channel()
        rabbitmq.declare_topology(channel)
        for sub in registry.all_subscriptions():
            for queue in rabbitmq.handler_queues(sub):
                queue(channel).purge()


def _recreate_database(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


# The alias this test process reads the service's database by (ExtractedContextsRouter).
SERVICE_ALIAS = "extracted"


class ExtractedContextsRouter:
    """In the test process only: the extracted contexts' models live in the service's database."""

    def db_for_read(self, model, **hints):
        return SERVICE_ALIAS if model._meta.app_label in EXTRACTED else None

    db_for_write = db_for_read


@contextlib.contextmanager
def split_running(*, env: dict | None = None, worker_class: str = "sync", database_access=None):
    """Both deployments running, the monolith on this process's database and the service on a fresh
    `<that database>_payments`, dropped afterwards. `env` is added to both sides' settings (the
    benchmark's settings module, for one); `database_access` wraps this process's own queries (the
    suite's django_db_blocker.unblock)."""
    database_access = database_access or contextlib.nullcontext
    with database_access():
        monolith_url = database_url()
        service_db = f"{connection.settings_dict['NAME']}_payments"
        service_url = f"{monolith_url.rsplit('/', 1)[0]}/{service_db}"
        _recreate_database(service_db)
    monolith_port, service_port = free_port(), free_port()
    monolith = Side(
        name="split-monolith",
        env={
            **BUS_ENV,
            **(env or {}),
            "CONTEXTS_LOCAL": ",".join(MONOLITH_CONTEXTS),
            # Notifications has no api (nothing calls it): only its events and tasks move.
            "CONTEXTS_REMOTE": json.dumps({"payments": f"http://127.0.0.1:{service_port}"}),
            # An open breaker tries the service again after a second, so a saga resumes in seconds.
            "RESILIENCE_BREAKER_RESET_TIMEOUT": "1",
            # Its bound on a payments call, below the 5 s latency the fault tests inject.
            "RESILIENCE_DEPENDENCIES": json.dumps(
                {"context-payments": {"read_timeout": MONOLITH_PAYMENTS_READ_TIMEOUT}}
            ),
        },
        port=monolith_port,
        worker_class=worker_class,
    )
    monolith_base = f"http://127.0.0.1:{monolith_port}"
    service = Side(
        name="split-payments",
        env={
            **BUS_ENV,
            **(env or {}),
            "DATABASE_URL": service_url,
            "CONTEXTS_LOCAL": ",".join(EXTRACTED),
            # Every other context with an api is the monolith's (notifications asks users for addresses).
            "CONTEXTS_REMOTE": json.dumps({name: monolith_base for name in MONOLITH_APIS}),
        },
        port=service_port,
        worker_class=worker_class,
    )
    with database_access():
        # Each side migrates its own database with its own settings: the service's gets no table of
        # the monolith's contexts. The monolith's is this process's test database, shared with the
        # monolith-mode tests and migrated with every context already, so its migrate applies nothing
        # (a fresh monolith database gets no payments table: tests/platform/test_placement.py).
        for side in (service, monolith):
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env=process_env(extra=side.env),
                check=True,
            )
        purge_queues()
        _purge_bus_queues()
    try:
        service.start()
        monolith.start()
        yield Split(monolith=monolith, service=service, database_url=service_url)
    finally:
        monolith.stop()
        service.stop()
        with database_access():
            wait_for_other_sessions_to_close()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{service_db}" WITH (FORCE)')


@contextlib.contextmanager
def split_topology_running(suite_worker, django_db_blocker):
    """Both deployments running; the suite's all-queues worker is paused meanwhile (it would take the
    monolith's tasks with the in-process settings)."""
    with (
        suite_worker_paused(suite_worker, django_db_blocker),
        split_running(database_access=django_db_blocker.unblock) as split,
    ):
        yield split


@contextlib.contextmanager
def monolith_settings(split: Split):
    """This process configured as one of the monolith's (payments over HTTP, events over RabbitMQ),
    reading payments' and notifications' tables where they now are, the service's database.

    The service's database is not one of the suite's (pytest-django neither creates nor flushes it,
    and a test may not name it): its connection is made here, for this thread, as a connection made on
    the fly, which Django's test case lets through."""
    conf = {**connections.settings["default"], "NAME": split.database_url.rsplit("/", 1)[1]}
    service_db = load_backend(conf["ENGINE"]).DatabaseWrapper(conf, SERVICE_ALIAS)
    setattr(connections._connections, SERVICE_ALIAS, service_db)
    try:
        with override_settings(
            CONTEXTS_LOCAL=list(MONOLITH_CONTEXTS),
            CONTEXTS_REMOTE=json.loads(split.monolith.env["CONTEXTS_REMOTE"]),
            BUS={**settings.BUS, "TRANSPORT": "rabbitmq"},
            # Before the deployment's own router, which refuses the extracted contexts' models.
            DATABASE_ROUTERS=[f"{__name__}.ExtractedContextsRouter", *settings.DATABASE_ROUTERS],
        ):
            yield split
    finally:
        rabbitmq.publisher().close()
        service_db.close()
        delattr(connections._connections, SERVICE_ALIAS)
