"""The integration app: the bus's tables and admin, Celery signal wiring, deploy checks, the admin
limited to the contexts this deployment holds."""

import os
import sys

from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    label = "integration"
    verbose_name = "Integration (event bus)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # checks, worker and schema are imported for their side effects: deploy checks, Celery signal
        # handlers, the OpenAPI extension.
        from integration import checks, embedded, tasks, worker  # noqa: F401
        from integration.bus import core
        from integration.edge import jsontypes, schema  # noqa: F401

        # The one place the relay learns how to hand a delivery to the broker (core cannot import the
        # task module, which imports core). Tests swap it with integration.bus.use_enqueue(). Under the
        # RabbitMQ transport only replays take this way: to the handler's queue.
        if core.remote_transport():
            from integration.bus import rabbitmq

            core.configure(enqueue=rabbitmq.enqueue_delivery)
        else:
            core.configure(enqueue=tasks.enqueue_delivery)

        # JSON bodies are held to the JSON types the OpenAPI contract documents (0 is no boolean).
        jsontypes.install()

        # The admin lists only the contexts this deployment holds (the admin's ready(), which runs
        # first, has registered every app's models by now).
        from django.contrib import admin

        from integration import db

        db.admin_unregister_non_local(admin.site)

        # The embedded default has no beat process: the dev server runs the periodic tasks itself.
        if worker.tasks_run_eagerly() and embedded.should_start(sys.argv, dict(os.environ)):
            embedded.start()
