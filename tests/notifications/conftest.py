"""Notifications test helpers: the default templates, users with contact details, and for the end-to-end
tests a real SMTP server (aiosmtpd), a stub SMS gateway and a real Celery worker sending through both."""

import email
import email.policy
import importlib
import json
import threading

import pytest
from aiosmtpd.controller import Controller
from django.apps import apps
from rest_framework.test import APIClient

from integration.resilience.stub import StubServer
from tests.processes import free_port
from tests.users.conftest import PASSWORD, UserFactory, bearer_client, login

__all__ = ["PASSWORD", "UserFactory", "bearer_client", "login"]

_defaults = importlib.import_module("contexts.notifications.migrations.0002_default_templates")


def seed_templates() -> None:
    """The data migration's default templates (a transactional test's flush removes them)."""
    _defaults.seed(apps, None)


@pytest.fixture
def templates(db):
    seed_templates()


@pytest.fixture
def customer(db):
    return UserFactory(phone="+4915112345678")


@pytest.fixture
def customer_client(customer):
    return bearer_client(login(APIClient(), customer.email)["access"])


# --- a real SMTP server --------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it is given, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.inbox = inbox
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def sms_gateway():
    with StubServer() as server:
        yield server


def _consumers(queue: str) -> int:
    from celery import current_app

    with current_app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_declare(queue, passive=True).consumer_count
        except Exception:
            return 0


@pytest.fixture(scope="module")
def notifications_worker(suite_worker, django_db_blocker, smtp_server, sms_gateway):
    """A real Celery worker on the notifications (and test bus) queues, sending email to the test's
    SMTP server and SMS to the stub gateway over HTTP, with quick retries (3 attempts). The suite's
    all-queues worker is paused meanwhile (it would send these tests' messages with its own settings)."""
    from tests.worker import WorkerProcess, purge_queues, suite_worker_paused

    with suite_worker_paused(suite_worker, django_db_blocker):
        queues = ["notifications", "testbus"]
        busy = {q: n for q in queues if (n := _consumers(q))}
        if busy:
            pytest.fail(f"another worker consumes {busy}: its settings would send these tests' messages")
        sms = {
            "base_url": sms_gateway.url,
            "max_attempts": 2,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "breaker": {"fail_max": 1000, "min_calls": 1000},
        }
        env = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
            "NOTIFICATIONS_SMS_PROVIDER": "contexts.notifications.providers.http.HttpSms",
            "NOTIFICATIONS_MAX_ATTEMPTS": "3",
            "NOTIFICATIONS_BACKOFF_BASE_SECONDS": "0.2",
            "NOTIFICATIONS_BACKOFF_MAX_SECONDS": "0.5",
            "RESILIENCE_DEPENDENCIES": json.dumps({"sms": sms}),
            "BUS_MAX_ATTEMPTS": "3",
            "BUS_BACKOFF_BASE_SECONDS": "0.2",
            "BUS_BACKOFF_MAX_SECONDS": "1",
        }
        with django_db_blocker.unblock():
            purge_queues()
            worker = WorkerProcess(
                queues=queues, env=env, settings_module="tests.notifications.worker_settings"
            ).start()
        try:
            yield worker
        finally:
            worker.stop()
