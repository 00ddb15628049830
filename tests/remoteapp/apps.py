"""A throwaway context "probe" for the remote service interface's tests (installed by the test settings)."""

from django.apps import AppConfig


class RemoteAppConfig(AppConfig):
    name = "tests.remoteapp"
    label = "remoteapp"

    def ready(self) -> None:
        from integration import services
        from tests.remoteapp import api

        services.register_errors_from(api)
