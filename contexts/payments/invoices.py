"""Invoices: the numbered billing document issued in the transaction that records a capture.

Numbers are `INV-<year>-<six digits>`, gapless within a year (the shop's local date, settings.TIME_ZONE):
the year's InvoiceSequence row is locked and incremented in the capture's own transaction, so a
capture that rolls back gives its number back, and concurrent captures take numbers in turn. The lock is
taken after the provider has answered, so it is held only for the rest of that transaction.
"""

from decimal import Decimal

from django.utils import timezone

from contexts.payments import events
from contexts.payments.models import Invoice, InvoiceSequence, Payment
from integration import bus, money


def _line(description: str, quantity: int, unit_amount: Decimal, currency: str) -> dict:
    return {
        "description": description,
        "quantity": quantity,
        "unit_amount": money.amount_text(amount=unit_amount, currency=currency),
        "amount": money.amount_text(amount=unit_amount * quantity, currency=currency),
    }


def invoice_lines(payment: Payment, captured: Decimal) -> list[dict]:
    """The invoice's lines for `captured`: the lines given at authorize (if any), with an adjustment
    line for an amount authorized but not captured; else one line for the order."""
    if not payment.invoice_lines:
        return [_line(f"Order {payment.order_id}", 1, captured, payment.currency)]
    lines = [
        _line(line["description"], line["quantity"], Decimal(line["unit_amount"]), payment.currency)
        for line in payment.invoice_lines
    ]
    if captured != payment.amount:
        lines.append(_line("Adjustment: not captured", 1, captured - payment.amount, payment.currency))
    return lines


def invoice_issue(payment: Payment, captured: Decimal) -> Invoice:
    """Issue the invoice of a payment just captured (call inside its capture's transaction, with the
    payment row locked). Publishes payments.InvoiceIssued.v1 in the same transaction."""
    issued_at = timezone.now()
    year = timezone.localdate(issued_at).year
    sequence = InvoiceSequence.objects.select_for_update().filter(year=year).first()
    if sequence is None:  # the year's first invoice
        InvoiceSequence.objects.bulk_create([InvoiceSequence(year=year)], ignore_conflicts=True)
        sequence = InvoiceSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    lines = invoice_lines(payment, captured)
    total = sum((Decimal(line["amount"]) for line in lines), Decimal("0"))
    invoice = Invoice.objects.create(
        number=f"INV-{year}-{sequence.last_number:06d}",
        year=year,
        sequence=sequence.last_number,
        payment=payment,
        order_id=payment.order_id,
        user_id=payment.user_id,
        currency=payment.currency,
        lines=lines,
        subtotal=total,
        total=total,
        billing_address=payment.billing_address,
        issued_at=issued_at,
    )
    bus.publish(
        events.InvoiceIssued(
            invoice_id=invoice.id,
            number=invoice.number,
            payment_id=payment.id,
            order_id=payment.order_id,
            user_id=payment.user_id,
            total=invoice.total,
            currency=invoice.currency,
            issued_at=issued_at,
        )
    )
    return invoice
