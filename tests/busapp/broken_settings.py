"""The test settings plus one miswired context named by BROKEN_APP: start-up must fail loudly."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, os.environ["BROKEN_APP"]]
