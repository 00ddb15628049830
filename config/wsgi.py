"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# gunicorn runs no system check: a placement that cannot work stops the web process here, not at its
# first call to another context.
from integration.checks import refuse_to_start_unworkable  # noqa: E402

refuse_to_start_unworkable()
