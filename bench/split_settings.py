"""Settings for make bench-split: the checkout benchmark's (bench.checkout_settings) plus the bus
benchmark's app (bench.busbench), whose no-op subscribers the relay measurement publishes to."""

from kombu import Exchange, Queue

from bench.checkout_settings import *  # noqa: F403
from bench.checkout_settings import CELERY_TASK_QUEUES, CELERY_TASK_ROUTES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.busbench"]
CELERY_TASK_QUEUES = [
    *CELERY_TASK_QUEUES,
    Queue("benchbus", Exchange("benchbus", type="direct"), routing_key="benchbus"),
]
CELERY_TASK_ROUTES = {**CELERY_TASK_ROUTES, "benchbus.*": {"queue": "benchbus", "routing_key": "benchbus"}}
