"""A refresh token rotates once: two concurrent refreshes of the same token cannot both succeed."""

import threading

import pytest
from django.db import connection

from contexts.users import services
from contexts.users.data import TokenRevoked
from contexts.users.tokens import token_pair_issue
from tests.users.conftest import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_refreshes_of_one_token_yield_one_new_pair():
    refresh = token_pair_issue(UserFactory()).refresh
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait()
            services.token_refresh(refresh=refresh)
            outcomes.append("rotated")
        except TokenRevoked:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "refused", "refused", "rotated"]
