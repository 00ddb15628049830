"""The test settings plus the test's marketing subscription, for the worker the end-to-end tests start."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.notifications.newsletter"]
