"""Load every context's idempotent demo data (used by `make run`)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integration import placement
from integration.contexts import context_configs


class Command(BaseCommand):
    help = "Create demo data for every local context: an operator account, a browsable catalog. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="allow it with DEBUG=false")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("refusing to load demo data with DEBUG=false (use --force)")
        # Only where each context's tables are (CONTEXTS_LOCAL): an extracted context's demo data is
        # its own deployment's.
        for config in context_configs():
            if placement.is_local(config.label):
                config.seed_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS("demo data is in place"))
