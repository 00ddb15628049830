"""Benchmark app of make bench-checkout: the baseline chain's one-insert task."""

from django.apps import AppConfig


class CheckoutBenchConfig(AppConfig):
    name = "bench.checkoutbench"
    label = "benchcheckout"

    def ready(self) -> None:
        from bench.checkoutbench import tasks  # noqa: F401
