"""Settings for the bus benchmark: the project's own, plus an app with two no-op subscribers."""

from kombu import Exchange, Queue

from config.settings import *  # noqa: F403
from config.settings import CELERY_TASK_QUEUES, CELERY_TASK_ROUTES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.busbench"]
CELERY_TASK_QUEUES = [
    *CELERY_TASK_QUEUES,
    Queue("benchbus", Exchange("benchbus", type="direct"), routing_key="benchbus"),
]
CELERY_TASK_ROUTES = {**CELERY_TASK_ROUTES, "benchbus.*": {"queue": "benchbus", "routing_key": "benchbus"}}
