"""Benchmark app: one event type, two subscribers, and a no-op task for the baseline."""

from django.apps import AppConfig


class BusBenchConfig(AppConfig):
    name = "bench.busbench"
    label = "benchbus"

    def ready(self) -> None:
        from bench.busbench import handlers
        from integration.bus import registry

        registry.register_event(handlers.Measured)
        registry.subscribe_module(context="benchbus", module=handlers)
        from bench.busbench import tasks  # noqa: F401
