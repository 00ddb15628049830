"""Races on PostgreSQL with real threads, each on its own connection: one key is one shipment."""

import threading

import pytest
from django.db import connection, connections

from contexts.shipping.models import Shipment, ShipmentLine
from tests.shipping.conftest import create, published

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_concurrent_creates_with_one_key_make_one_shipment():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serialises writers instead")
    barrier = threading.Barrier(6)
    results, failures = [], []

    def worker():
        try:
            barrier.wait()
            results.append(create(key="race:ship"))
        except Exception as exc:  # reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    assert len({r.id for r in results}) == 1 and len(results) == 6
    assert Shipment.objects.count() == 1 and ShipmentLine.objects.count() == 2
    assert len(published("shipping.ShipmentCreated.v1")) == 1
