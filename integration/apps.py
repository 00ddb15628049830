"""The integration app: the bus's tables and admin, Celery signal wiring."""

from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    label = "integration"
    verbose_name = "Integration (event bus)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integration import worker  # noqa: F401  (connects the Celery signal handlers)
        from integration.edge import schema  # noqa: F401  (registers the OpenAPI auth extension)
