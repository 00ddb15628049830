"""Shared fixtures: the real services (PostgreSQL, Redis, RabbitMQ) and the bus in test mode."""

import pytest
from celery import current_app
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit buckets and the token denylist live in the cache: every test starts empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _quiet_database_after_worker_tests(request, django_db_blocker):
    """After a test marked `worker`: wait until the live workers' follow-up work (an event's handlers,
    a retried step) holds no transaction, before the test's flush truncates every table; a TRUNCATE
    waiting on a worker's lock while the worker waits on the TRUNCATE's is a deadlock. pytest-django's
    database fixture is set up before this one, so it is torn down after."""
    yield
    if request.node.get_closest_marker("worker") is not None:
        from tests.worker import wait_for_other_sessions_to_idle

        with django_db_blocker.unblock():
            wait_for_other_sessions_to_idle()


@pytest.fixture
def eager_tasks(settings):
    """Run Celery tasks in-process (as the embedded default does), so event handlers run at commit.

    For tests of one context's behaviour through the bus; the broker path has its own tests with a
    real worker (tests/platform/test_bus_worker.py).
    """
    conf = current_app.conf
    previous = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    conf.task_always_eager, conf.task_eager_propagates = previous


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def testbus():
    """Register the test app's events and handlers in this process for one test."""
    from tests.busapp import handlers

    handlers.register()
    yield handlers
    handlers.unregister()


@pytest.fixture(scope="session")
def suite_worker(django_db_setup, django_db_blocker):
    """A real Celery worker (2 prefork processes) consuming every queue, against the test database.

    Its handlers retry fast and dead-letter after 3 attempts so failure paths finish in seconds.
    """
    from tests.worker import WorkerProcess, purge_queues, wait_for_other_sessions_to_close

    with django_db_blocker.unblock():
        purge_queues()
        worker = WorkerProcess(
            env={"BUS_MAX_ATTEMPTS": "3", "BUS_BACKOFF_BASE_SECONDS": "0.2", "BUS_BACKOFF_MAX_SECONDS": "1"}
        ).start()
    yield worker
    worker.stop()
    with django_db_blocker.unblock():
        wait_for_other_sessions_to_close()


@pytest.fixture(scope="session")
def celery_worker_process(suite_worker):
    """The suite's worker (suite_worker); tests/orders makes its end-to-end tests run it in both
    topologies by overriding this name."""
    return suite_worker


@pytest.fixture(scope="session")
def services_server(django_db_setup, django_db_blocker):
    """This project under gunicorn (2 sync workers) against the test database, serving every context's
    api at /internal/: the other side of the calls a test makes with CONTEXTS_REMOTE pointing at it."""
    import os

    from tests.processes import Gunicorn
    from tests.worker import database_url, wait_for_other_sessions_to_close

    with django_db_blocker.unblock():
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "LOG_LEVEL": "WARNING",
        }
    server = Gunicorn(env, workers=2).wait_ready()
    yield server
    server.stop()
    with django_db_blocker.unblock():
        wait_for_other_sessions_to_close()
