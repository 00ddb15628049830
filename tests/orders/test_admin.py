"""The operators' screens: orders with their saga timeline, the status and "stuck" filters, and the
actions on a saga, each asking for a reason and recorded with the operator."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contexts.orders.models import OperatorAction, Saga
from integration.errors import TransientError
from tests.orders.conftest import start_saga

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    user = get_user_model().objects.create_superuser("ops@example.com", "a-long-operator-password")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def failed_saga(driver, fakes):
    """A saga whose compensation of the stock keeps failing: the order needs attention."""
    from contexts.catalog.api import OutOfStock

    fakes.catalog.fail("stock_reserve", OutOfStock(["MUG-1"]))
    fakes.catalog.fail("stock_release", always=TransientError("catalog down"))
    saga = start_saga(driver)
    driver.run()
    saga.refresh_from_db()
    assert saga.status == "failed"
    return saga


def test_the_order_page_shows_the_saga_timeline(operator, failed_saga):
    page = operator.get(reverse("admin:orders_order_change", args=[failed_saga.order_id])).content.decode()
    assert failed_saga.correlation_id in page
    assert "compensation_failed" in page and "catalog down" in page
    assert "definition v1" in page and "reserve" in page


def test_filters_by_status_and_stuck_longer_than_n_minutes(operator, failed_saga):
    changelist = reverse("admin:orders_order_changelist")
    number = failed_saga.order.number
    assert number in operator.get(changelist, {"status": "needs_attention"}).content.decode()
    assert number not in operator.get(changelist, {"status": "ready_to_ship"}).content.decode()
    assert number not in operator.get(changelist, {"stuck": "5"}).content.decode()
    Saga.objects.filter(id=failed_saga.id).update(updated_at=timezone.now() - dt.timedelta(minutes=20))
    assert number in operator.get(changelist, {"stuck": "15"}).content.decode()
    assert number in operator.get(changelist, {"stuck": "17"}).content.decode()  # any N
    assert number not in operator.get(changelist, {"stuck": "60"}).content.decode()
    assert operator.get(changelist, {"stuck": "x"}).status_code == 200


def test_an_action_asks_for_a_reason_and_is_recorded_with_the_operator(operator, failed_saga, fakes):
    changelist = reverse("admin:orders_order_changelist")
    response = operator.post(changelist, {"action": "retry_step", "_selected_action": [failed_saga.order_id]})
    assert response.status_code == 302
    form_url = response["Location"]
    assert "Retry the current step" in operator.get(form_url).content.decode()
    assert operator.post(form_url, {"reason": ""}).status_code == 200  # a reason is required
    assert not OperatorAction.objects.exists()

    response = operator.post(form_url, {"reason": "catalog is back"})
    assert response.status_code == 302
    action = OperatorAction.objects.get()
    assert (action.kind, action.operator, action.reason) == (
        "retry_step",
        "ops@example.com",
        "catalog is back",
    )
    failed_saga.refresh_from_db()
    assert failed_saga.status == "compensating"

    # An action the saga's state refuses says so on the form, and records nothing.
    url = reverse("admin:orders_order_saga_action", args=[failed_saga.order_id, "mark_resolved"])
    page = operator.post(url, {"reason": "done"}).content.decode()
    assert "only a failed saga can be marked resolved" in page
    assert OperatorAction.objects.count() == 1
    assert (
        operator.get(
            reverse("admin:orders_order_saga_action", args=[failed_saga.order_id, "bogus"])
        ).status_code
        == 403
    )
