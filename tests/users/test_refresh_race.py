"""A refresh token rotates once: two concurrent refreshes of the same token cannot both succeed."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from contexts.users import services
from contexts.users.data import TokenRevoked
from contexts.users.tokens import token_pair_issue
from integration import tokens as edge_auth
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


def test_a_rotation_racing_logout_all_is_refused_once_the_revocation_committed():
    user = UserFactory()
    refresh = token_pair_issue(user).refresh
    # The cached copy still says "never revoked", as it did when this refresh passed the cached check;
    # logout-all then committed in the database (written straight to the row, as the racing
    # transaction did) before the rotation took its locks.
    edge_auth.user_tokens_revoke(user_id=user.id, valid_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    type(user).objects.filter(id=user.id).update(tokens_valid_after=timezone.now() + dt.timedelta(seconds=1))
    with pytest.raises(TokenRevoked):
        services.token_refresh(refresh=refresh)
