"""Settings for the checkout benchmark: the project's own, a urlconf with the bare baseline endpoint,
and an app with the baseline chain's task on its own queue."""

from kombu import Exchange, Queue

from config.settings import *  # noqa: F403
from config.settings import CELERY_TASK_QUEUES, CELERY_TASK_ROUTES, INSTALLED_APPS

ROOT_URLCONF = "bench.checkout_urls"
INSTALLED_APPS = [*INSTALLED_APPS, "bench.checkoutbench"]
CELERY_TASK_QUEUES = [
    *CELERY_TASK_QUEUES,
    Queue("benchcheckout", Exchange("benchcheckout", type="direct"), routing_key="benchcheckout"),
]
CELERY_TASK_ROUTES = {
    **CELERY_TASK_ROUTES,
    "benchcheckout.*": {"queue": "benchcheckout", "routing_key": "benchcheckout"},
}
