"""The embedded default's stand-in for Celery beat: periodic tasks run in a thread of the dev server.

Without a broker there is no beat process, yet reservations must still expire and the outbox must
still be swept under `make run`. This thread runs each numeric CELERY_BEAT_SCHEDULE entry in-process
at its interval. The real topology runs `celery beat` instead and never starts this.
"""

import threading
import time

from celery import current_app
from django.conf import settings
from django.db import close_old_connections

from integration.logging import get_logger

log = get_logger(__name__)
_started = threading.Event()


def should_start(argv: list[str], environ: dict[str, str]) -> bool:
    """Only in the process that serves `runserver` (the autoreloader's child, or --noreload)."""
    if "runserver" not in argv:
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv


def start() -> None:
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_run, name="embedded-beat", daemon=True).start()


def _schedule() -> list[tuple[str, float]]:
    return [
        (entry["task"], float(entry["schedule"]))
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if isinstance(entry["schedule"], int | float)
    ]


def run_due(next_due: dict[str, float], now: float) -> list[str]:
    """Run every task whose time has come; returns their names."""
    ran = []
    for task_name, interval in _schedule():
        if now < next_due.setdefault(task_name, now + interval):
            continue
        next_due[task_name] = now + interval
        try:
            current_app.tasks[task_name].apply(throw=True)
            ran.append(task_name)
        except Exception:
            log.exception("embedded_beat.task_failed", task=task_name)
        finally:
            close_old_connections()
    return ran


def _run() -> None:
    import integration.tasks  # noqa: F401  (the bus's periodic task)

    log.info("embedded_beat.started", tasks=[name for name, _ in _schedule()])
    next_due: dict[str, float] = {}
    while True:
        run_due(next_due, time.monotonic())
        time.sleep(1.0)
