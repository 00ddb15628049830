"""Payments in the admin: the transaction log, in-doubt filtering, the operator's refund (reason,
confirmation, recorded operator, keyed against double submits), invoices read-only, breaker states."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from contexts.payments import api
from contexts.payments.models import Invoice, Refund
from tests.payments.conftest import authorize

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("ops@example.com", "ops-Secret-2024")
    client = Client()
    client.force_login(user)
    return client


def captured(amount="100.00"):
    payment = authorize(key=f"{uuid.uuid4()}:authorize", amount=amount, order_id=uuid.uuid4())
    return api.payment_capture(key=f"{payment.id}:capture", payment_id=payment.id)


def test_the_changelist_filters_by_status_in_doubt_included_and_shows_the_breakers(operator):
    ok = captured()
    with pytest.raises(api.PaymentProviderUnavailable):
        authorize(key="lost:authorize", method="pm_sandbox_timeout_after_charge", order_id=uuid.uuid4())
    page = operator.get("/admin/payments/payment/?status__exact=in_doubt")
    assert page.status_code == 200
    text = page.content.decode()
    assert "in_doubt" in text and str(ok.id) not in text
    assert 'id="breaker-states"' in text
    assert "Provider circuit breakers" in text


def test_a_payment_shows_its_transaction_log(operator):
    payment = captured()
    page = operator.get(f"/admin/payments/payment/{payment.id}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"{payment.id}:capture:capture" in text  # our key, as sent to the provider
    assert "authorize" in text and "capture" in text and "approved" in text
    assert "Refund…" in text


def test_an_operator_refunds_part_with_a_reason_and_confirmation_once_however_often_submitted(operator):
    payment = captured()
    url = f"/admin/payments/payment/{payment.id}/refund/"
    form = operator.get(url)
    assert form.status_code == 200
    key = form.context["form"].initial["key"]
    unconfirmed = operator.post(url, {"amount": "25.00", "reason": "damaged", "key": key})
    assert unconfirmed.status_code == 200 and not Refund.objects.exists()
    body = {"amount": "25.00", "reason": "damaged", "confirm": "on", "key": key}
    done = operator.post(url, body)
    assert done.status_code == 302
    again = operator.post(url, body)  # the browser's double submit
    assert again.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.actor) == (
        Decimal("25.00"),
        "damaged",
        "admin:ops@example.com",
    )
    assert api.payment_get(payment_id=payment.id).status == "partially_refunded"


def test_a_refund_past_what_remains_is_shown_as_an_error_and_refunds_nothing(operator):
    payment = captured()
    url = f"/admin/payments/payment/{payment.id}/refund/"
    key = operator.get(url).context["form"].initial["key"]
    page = operator.post(url, {"amount": "100.01", "reason": "too much", "confirm": "on", "key": key})
    assert page.status_code == 200
    assert "At most 100.00 remains" in page.content.decode()
    assert not Refund.objects.exists()


def test_invoices_are_listed_and_read_only(operator):
    payment = captured()
    invoice = Invoice.objects.get(payment_id=payment.id)
    listing = operator.get("/admin/payments/invoice/")
    assert listing.status_code == 200 and invoice.number in listing.content.decode()
    assert operator.get(f"/admin/payments/invoice/{invoice.pk}/change/").status_code == 200
    operator.post(f"/admin/payments/invoice/{invoice.pk}/change/", {"total": "1.00"})
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("100.00")
    assert operator.get("/admin/payments/invoice/add/").status_code == 403
