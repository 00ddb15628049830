"""Run the outbox relay of the RabbitMQ event transport until SIGTERM/SIGINT."""

import threading

from django.core.management.base import BaseCommand, CommandError

from integration.bus import core, rabbitmq


class Command(BaseCommand):
    help = (
        "Publish the outbox to RabbitMQ (BUS_TRANSPORT=rabbitmq): batches of undispatched events,"
        " persistent, marked dispatched once the broker confirmed them. Several may run at once."
    )

    def handle(self, *args, **options):
        if not core.remote_transport():
            raise CommandError("BUS_TRANSPORT is not 'rabbitmq': Celery carries the events.")
        stop = threading.Event()
        rabbitmq.install_stop_signals(stop)
        self.stdout.write("relay ready", ending="\n")
        self.stdout.flush()
        rabbitmq.run_relay(stop=stop)
