"""Settings for the test suite: the project's own, plus throwaway apps for the bus and idempotency."""

from kombu import Exchange, Queue

from config.settings import *  # noqa: F403
from config.settings import CELERY_TASK_QUEUES, CELERY_TASK_ROUTES, INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "tests.busapp", "tests.idemapp", "tests.remoteapp"]
ROOT_URLCONF = "tests.urls"
# The test app's handlers consume from their own queue, like a context's.
CELERY_TASK_QUEUES = [
    *CELERY_TASK_QUEUES,
    Queue("testbus", Exchange("testbus", type="direct"), routing_key="testbus"),
]
CELERY_TASK_ROUTES = {**CELERY_TASK_ROUTES, "testbus.*": {"queue": "testbus", "routing_key": "testbus"}}
# Every api call crosses the JSON codec, as it would once its context is extracted.
SERVICES = {**SERVICES, "CODEC_ROUND_TRIP": True}  # noqa: F405
# Fast, cheap hashing: tests create many users; production keeps PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The order saga's test hook (a step held between its participant call and its result while a cache key
# is set): on for the suite's workers, so a test can kill one in the middle of a step.
ORDERS = {**ORDERS, "TEST_HOOKS": True}  # noqa: F405
# A slow service on demand (tests/latency.py): the split's fault tests hold its internal calls for seconds.
MIDDLEWARE = ["tests.latency.InjectedLatencyMiddleware", *MIDDLEWARE]
