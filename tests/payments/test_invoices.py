"""Invoices: issued with the capture, numbered without gaps within a year, immutable once written."""

import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from contexts.payments import api
from contexts.payments.invoices import invoice_issue
from contexts.payments.models import Invoice, InvoiceSequence, Payment
from integration.bus.models import OutboxMessage
from tests.payments.conftest import ORDER_ID, USER_ID, authorize
from tests.payments.test_concurrency import race

YEAR = timezone.localdate().year


def captured(key: str, amount: str = "100.00", **kw):
    payment = authorize(key=f"{key}:authorize", amount=amount, **kw)
    return api.payment_capture(key=f"{key}:capture", payment_id=payment.id)


@pytest.mark.django_db
def test_a_capture_issues_the_years_next_invoice_with_one_line_for_the_order():
    payment = captured("saga-1")
    invoice = api.payment_invoice(payment_id=payment.id)
    assert invoice.number == f"INV-{YEAR}-000001"
    assert payment.invoice_number == invoice.number
    assert (invoice.order_id, invoice.user_id, invoice.currency) == (ORDER_ID, USER_ID, "EUR")
    assert [(line.description, line.quantity, line.unit_amount) for line in invoice.lines] == [
        (f"Order {ORDER_ID}", 1, Decimal("100.00"))
    ]
    assert invoice.subtotal == invoice.total == Decimal("100.00")
    assert OutboxMessage.objects.filter(type="payments.InvoiceIssued.v1").count() == 1
    # Replaying the capture issues nothing more.
    api.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert Invoice.objects.count() == 1
    assert captured("saga-2").invoice_number == f"INV-{YEAR}-000002"


@pytest.mark.django_db
def test_the_lines_and_billing_address_given_at_authorize_are_invoiced_with_what_was_not_captured():
    lines = (
        api.InvoiceLineData(description="Mug", quantity=2, unit_amount=Decimal("12.50")),
        api.InvoiceLineData(description="Tea", quantity=1, unit_amount=Decimal("5.00")),
    )
    address = {"line1": "1 Rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"}
    payment = api.payment_authorize(
        key="saga-3:authorize",
        order_id=uuid.uuid4(),
        user_id=USER_ID,
        amount=Decimal("30.00"),
        currency="EUR",
        payment_method="pm_sandbox_ok",
        invoice_lines=lines,
        billing_address=address,
    )
    api.payment_capture(key="saga-3:capture", payment_id=payment.id, amount=Decimal("25.00"))
    invoice = api.payment_invoice(payment_id=payment.id)
    assert [(line.description, line.quantity, line.unit_amount) for line in invoice.lines] == [
        ("Mug", 2, Decimal("12.50")),
        ("Tea", 1, Decimal("5.00")),
        ("Adjustment: not captured", 1, Decimal("-5.00")),
    ]
    assert invoice.total == Decimal("25.00")
    assert invoice.billing_address == address


@pytest.mark.django_db
def test_lines_that_do_not_add_up_to_the_amount_are_refused_before_any_charge():
    with pytest.raises(Exception) as caught:
        api.payment_authorize(
            key="saga-4:authorize",
            order_id=ORDER_ID,
            user_id=USER_ID,
            amount=Decimal("30.00"),
            currency="EUR",
            payment_method="pm_sandbox_ok",
            invoice_lines=(api.InvoiceLineData(description="Mug", quantity=2, unit_amount=Decimal("12.50")),),
        )
    assert "invoice_lines" in str(caught.value)
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_before_capture_there_is_no_invoice():
    payment = authorize(key="saga-5:authorize")
    with pytest.raises(api.InvoiceNotFound):
        api.payment_invoice(payment_id=payment.id)
    with pytest.raises(api.PaymentNotFound):
        api.payment_invoice(payment_id=uuid.uuid4())


@pytest.mark.django_db
def test_an_issued_invoice_cannot_be_changed_or_deleted():
    payment = captured("saga-6")
    invoice = Invoice.objects.get(payment_id=payment.id)
    invoice.total = Decimal("1.00")
    with pytest.raises(ValueError, match="immutable"):
        invoice.save()
    with pytest.raises(ValueError, match="immutable"):
        invoice.delete()
    if connection.vendor == "postgresql":
        # Not even a bulk UPDATE or DELETE, which bypasses save(): the table's trigger refuses it.
        for statement in (
            lambda: Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00")),
            lambda: Invoice.objects.filter(pk=invoice.pk).delete(),
        ):
            with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
                statement()
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("100.00")


@pytest.mark.django_db
def test_a_capture_that_rolls_back_gives_its_number_back():
    payment = authorize(key="saga-7:authorize")
    locked = Payment.objects.get(pk=payment.id)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert invoice_issue(locked, Decimal("100.00")).number == f"INV-{YEAR}-000001"
        raise RuntimeError("the capture's transaction failed after numbering")
    assert not InvoiceSequence.objects.filter(year=YEAR, last_number__gt=0).exists()
    assert captured("saga-8").invoice_number == f"INV-{YEAR}-000001"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_invoice_numbers_are_gapless_under_concurrent_captures():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested")
    payments = [authorize(key=f"race-{i}:authorize", order_id=uuid.uuid4()) for i in range(12)]
    outcomes, _ = race(
        [(lambda p=p: api.payment_capture(key=f"{p.id}:capture", payment_id=p.id)) for p in payments]
    )
    assert outcomes == {"ok": 12}
    numbers = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert numbers == list(range(1, 13))
    assert InvoiceSequence.objects.get(year=YEAR).last_number == 12
