"""Run a real Celery worker process against RabbitMQ and the test database, for tests that need one."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the test process uses (pytest-django's test_ database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("worker tests need PostgreSQL (set DATABASE_URL)")
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{connection.settings_dict['NAME']}"


def queues() -> list[str]:
    return [q.name for q in settings.CELERY_TASK_QUEUES]


def purge_queues() -> None:
    """Drop messages that earlier test runs left in the broker."""
    from celery import current_app

    with current_app.connection_for_write() as conn:
        channel = conn.default_channel
        for name in queues():
            try:
                channel.queue_purge(name)
            except Exception:
                continue


def process_env(settings_module: str = "tests.settings", extra: dict | None = None) -> dict:
    """The environment of a child process of the suite: the test database, the broker, the test events."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TESTBUS_REGISTER": "1",
        "LOG_LEVEL": "INFO",
        "CELERY_SKIP_CHECKS": "1",
        **(extra or {}),
    }


class CommandProcess:
    """`manage.py <command>` in its own process group (the bus's relay and consumer), its output in a
    file; start() returns once the output shows `ready_text`."""

    def __init__(self, *args: str, env: dict | None = None, ready_text: str = "", name: str = "command"):
        self.args = args
        self.name = name
        self.extra_env = env or {}
        self.ready_text = ready_text
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"shop-test-{name}-{os.getpid()}.log"
        self.log = None

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", *self.args]

    def start(self) -> "CommandProcess":
        self.log = self.log_path.open("w")  # a restart waits for its own ready line
        self.proc = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=process_env(extra=self.extra_env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: self.proc.poll() is not None or self.ready_text in self.output(),
            timeout=30,
            message=f"{self.name} to start",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, without closing anything."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self.log:
            self.log.close()
            self.log = None


class BeatProcess(CommandProcess):
    """`celery beat` in its own process group, its schedule file in a directory of its own."""

    def __init__(self, *, env: dict | None = None, name: str = "beat"):
        self.schedule_dir = tempfile.mkdtemp(prefix="shop-test-beat-")
        super().__init__(env=env, ready_text="beat: Starting", name=name)

    def command(self) -> list[str]:
        schedule = str(Path(self.schedule_dir) / "schedule")
        return [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "-s", schedule]

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.schedule_dir, ignore_errors=True)


class WorkerProcess(CommandProcess):
    """`celery worker` in its own process group, started and stopped by tests (and bench-bus).

    It consumes `queues`, or (None) its settings' CELERY_TASK_QUEUES, as `celery worker` without -Q."""

    def __init__(
        self,
        *,
        concurrency: int = 2,
        env: dict | None = None,
        queues: list[str] | None = None,
        settings_module: str = "tests.settings",
        name: str = "worker",
    ):
        self.name = name
        self.concurrency = concurrency
        self.extra_env = env or {}
        self.queues = queues
        self.settings_module = settings_module
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"shop-test-{name}-{os.getpid()}.log"
        self.log = None

    def start(self) -> "WorkerProcess":
        env = process_env(self.settings_module, self.extra_env)
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                *(["-Q", ",".join(self.queues)] if self.queues else []),
                "-c",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{self.name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.output()}")
            if " ready." in self.output():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the worker did not become ready:\n{self.output()}")


def wait_until(predicate, *, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def _other_sessions(*, busy_only: bool) -> int:
    """Sessions of the test database other than this one; `busy_only`: those running a statement or
    holding a transaction (an idle connection holds no lock)."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    if busy_only:
        sql += " AND backend_type = 'client backend' AND state <> 'idle'"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def wait_for_other_sessions_to_idle(timeout: float = 15.0, quiet_for: float = 0.3) -> None:
    """Wait until no other session of the test database has run a statement or held a transaction for
    `quiet_for` seconds, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if _other_sessions(busy_only=True):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_for:
            return
        time.sleep(0.05)


def wait_for_other_sessions_to_close(timeout: float = 10.0) -> None:
    """Child processes' connections linger a moment after they exit; the test database can only be
    dropped once they are gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _other_sessions(busy_only=False):
        time.sleep(0.1)


@contextlib.contextmanager
def suite_worker_paused(suite_worker, django_db_blocker):
    """The suite's all-queues worker stopped for the block (a worker of other settings takes its
    queues meanwhile), and started again after it."""
    with django_db_blocker.unblock():
        suite_worker.stop()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            wait_for_other_sessions_to_close()
            suite_worker.start()
