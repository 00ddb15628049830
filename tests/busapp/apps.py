"""A throwaway app for bus tests, whose events and handlers are registered only on demand.

Never by default, so the project's own context map and event catalogue stay as the code declares them.
"""

import os

from django.apps import AppConfig


class BusAppConfig(AppConfig):
    name = "tests.busapp"
    label = "testbus"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A worker process started by the tests sets this, so it knows the test events and handlers.
        if os.environ.get("TESTBUS_REGISTER") == "1":
            from tests.busapp import handlers

            handlers.register()
