"""Run event handlers from their RabbitMQ queues until SIGTERM/SIGINT."""

import threading

from django.core.management.base import BaseCommand, CommandError

from integration import placement
from integration.bus import core, rabbitmq, registry


class Command(BaseCommand):
    help = (
        "Consume events from RabbitMQ (BUS_TRANSPORT=rabbitmq) and run their handlers with the inbox's"
        " dedupe: those named by --handlers or --contexts, else those of the contexts this deployment"
        " holds (CONTEXTS_LOCAL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--handlers", default="", help="comma-separated: payments.on_order_placed,...")
        parser.add_argument(
            "--contexts", default="", help="comma-separated subscriber contexts: payments,..."
        )

    def handle(self, *args, **options):
        if not core.remote_transport():
            raise CommandError("BUS_TRANSPORT is not 'rabbitmq': Celery workers run the handlers.")
        names = [n for n in options["handlers"].split(",") if n]
        contexts = [c for c in options["contexts"].split(",") if c]
        try:
            subs = rabbitmq.subscriptions_named(handlers=names, contexts=contexts)
        except registry.UnknownSubscription as exc:
            raise CommandError(str(exc)) from None
        if not (names or contexts):  # neither named: the handlers of the contexts held here
            subs = [s for s in subs if placement.is_local(s.context)]
        if not subs:
            raise CommandError("no subscription matches: nothing to consume")
        stop = threading.Event()
        rabbitmq.install_stop_signals(stop)
        self.stdout.write(f"consuming {len(subs)} handlers: {', '.join(s.name for s in subs)}")
        self.stdout.flush()
        rabbitmq.EventConsumer(subs).run(stop=stop)
