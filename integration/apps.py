"""The integration app: the bus's tables and admin, Celery signal wiring."""

from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    label = "integration"
    verbose_name = "Integration (event bus)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: deploy checks, Celery signal handlers, the OpenAPI extension.
        from integration import checks, worker  # noqa: F401
        from integration.edge import schema  # noqa: F401
