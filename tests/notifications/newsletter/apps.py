"""Installed only in the notifications tests' worker (worker_settings), which must know the event."""

from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "tests.notifications.newsletter"
    label = "testnewsletter"

    def ready(self) -> None:
        from tests.notifications.newsletter import handlers

        handlers.register()
