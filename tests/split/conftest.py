"""The split topology for this package's tests (tests/split/topology.py)."""

import pytest

from tests.split.topology import monolith_settings, split_topology_running


@pytest.fixture(scope="package")
def split_topology(suite_worker, django_db_blocker):
    with split_topology_running(suite_worker, django_db_blocker) as split:
        yield split


@pytest.fixture
def split(split_topology):
    with monolith_settings(split_topology):
        yield split_topology
