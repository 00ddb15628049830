"""Settings for the catalog benchmark: the project's own, with a urlconf that adds bare baselines."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.catalog_urls"
