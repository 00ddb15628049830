"""Payments use cases that write: authorize, capture, void and refund, each idempotent by key.

Each command locks its payment row for the whole of its provider call, so calls racing on one key (or
one payment) take turns: the first acts, the others find its result. The state change, the transaction
log rows and the event commit together. An answer that never came is not a failure: the payment goes
`in_doubt` (committed) and the caller gets a transient error; the next call with the key, or a void,
asks the provider first (`lookup` by key) and acts on what really happened there.
"""

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contexts.payments import events, invoices
from contexts.payments.data import (
    CaptureExceedsAuthorized,
    InvalidPaymentMethod,
    InvoiceLineData,
    PaymentDeclined,
    PaymentKeyConflict,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentsError,
    PaymentStateConflict,
    RefundDeclined,
    RefundExceedsCaptured,
)
from contexts.payments.models import CAPTURED_STATUSES, KEY_LENGTH, Payment, ProviderCall, Refund
from contexts.payments.providers import APPROVED, INVALID, ProviderResult, ProviderUnavailable, provider
from integration import bus, keys, money
from integration.arguments import id_check, items_problem, text_check, whole_number_problem
from integration.backoff import equal_jitter

Status = Payment.Status
Doubt = Payment.Doubt
Kind = ProviderCall.Kind
Outcome = ProviderCall.Outcome


# --- checks -----------------------------------------------------------------------------------------


def _key_check(key: str) -> None:
    # The key goes to the provider as an Idempotency-Key header: printable ASCII.
    keys.key_check(key, max_length=KEY_LENGTH)


# Amounts are stored with this many decimal places: a currency with more minor units is refused.
AMOUNT_PLACES = Payment._meta.get_field("amount").decimal_places


# The amount columns' limit: 12 digits, AMOUNT_PLACES of them after the point.
AMOUNT_LIMIT = Decimal(10) ** (Payment._meta.get_field("amount").max_digits - AMOUNT_PLACES)


def _amount_check(amount: Decimal, currency: str, *, field: str = "amount") -> None:
    money.amount_validate(amount=amount, currency=currency, places=AMOUNT_PLACES)
    if amount <= 0:
        raise ValidationError({field: ["An amount is more than zero."]})
    if amount >= AMOUNT_LIMIT:
        raise ValidationError({field: [f"An amount is less than {AMOUNT_LIMIT:,}."]})


MAX_INVOICE_LINES = 500


def _invoice_lines_check(lines: Sequence[InvoiceLineData], amount: Decimal, currency: str) -> list[dict]:
    """Lines for the invoice, as stored: InvoiceLineData adding up to the amount authorized."""
    if not lines:
        return []
    if problem := items_problem(lines, InvoiceLineData, max_items=MAX_INVOICE_LINES):
        raise ValidationError({"invoice_lines": [problem]})
    stored, total = [], Decimal("0")
    for line in lines:
        text_check("invoice_lines.description", line.description, 200)
        quantity = line.quantity
        if problem := whole_number_problem(quantity, low=1, high=1_000_000):
            raise ValidationError({"invoice_lines.quantity": [problem]})
        money.amount_validate(amount=line.unit_amount, currency=currency, places=AMOUNT_PLACES)
        if not 0 <= line.unit_amount < AMOUNT_LIMIT:
            raise ValidationError({"invoice_lines.unit_amount": [f"From 0 to less than {AMOUNT_LIMIT:,}."]})
        total += line.unit_amount * quantity
        stored.append(
            {"description": line.description, "quantity": quantity, "unit_amount": str(line.unit_amount)}
        )
    if total != amount:
        raise ValidationError({"invoice_lines": [f"The lines add up to {total}, not the amount {amount}."]})
    return stored


def _billing_address_check(address: Mapping[str, str] | None) -> dict:
    if not address:
        return {}
    if not isinstance(address, Mapping) or len(address) > 20:
        raise ValidationError({"billing_address": ["At most 20 text fields."]})
    for name, value in address.items():
        text_check("billing_address", name, 40)
        text_check(f"billing_address.{name}", value, 300, required=False)
    return dict(address)


def _locked(payment_id: uuid.UUID) -> Payment:
    payment = Payment.objects.select_for_update(of=("self",)).filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound(payment_id=payment_id)
    return payment


# --- the provider, logged ---------------------------------------------------------------------------


def _call(payment: Payment, kind: str, key: str, amount: Decimal | None, fn: Callable[[], ProviderResult]):
    """Call the provider, logging each attempt as a ProviderCall row. Returns its result, or raises
    ProviderUnavailable.

    One retry loop, not two: a retryable ProviderUnavailable (the sandbox's) is tried again, up to
    PAYMENTS_PROVIDER_ATTEMPTS times in all, after a pause (equal jitter from
    PAYMENTS_PROVIDER_BACKOFF_BASE up to PAYMENTS_PROVIDER_BACKOFF_MAX seconds); one raised with
    retryable=False (the HTTP adapter's, whose resilient client has already spent its retries) ends the
    call at once. The call is keyed, so repeating it cannot act twice.
    """
    attempts = max(1, settings.PAYMENTS_PROVIDER_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        try:
            result = fn()
        except ProviderUnavailable as exc:
            _log(payment, kind, key, amount, started, Outcome.ERROR, response={"error": exc.reason})
            if attempt == attempts or not exc.retryable:
                raise
            time.sleep(
                equal_jitter(
                    attempt=attempt,
                    base=settings.PAYMENTS_PROVIDER_BACKOFF_BASE,
                    cap=settings.PAYMENTS_PROVIDER_BACKOFF_MAX,
                )
            )
            continue
        _log(payment, kind, key, amount, started, result.outcome, result.reference, result.raw)
        return result
    raise AssertionError("unreachable")


def _lookup(payment: Payment, key: str) -> ProviderResult | None:
    started = time.monotonic()
    try:
        result = provider().lookup(key=key)
    except ProviderUnavailable as exc:
        _log(payment, Kind.LOOKUP, key, None, started, Outcome.ERROR, response={"error": exc.reason})
        raise
    outcome = Outcome.FOUND if result is not None else Outcome.NOT_FOUND
    _log(
        payment,
        Kind.LOOKUP,
        key,
        None,
        started,
        outcome,
        result.reference if result else "",
        result.raw if result else {},
    )
    return result


def _log(payment, kind, key, amount, started, outcome, reference="", response=None) -> None:
    ProviderCall.objects.create(
        payment=payment,
        kind=kind,
        key=key,
        amount=amount,
        outcome=outcome,
        provider_reference=reference,
        response=response or {},
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _save(payment: Payment, **changes) -> None:
    for name, value in changes.items():
        setattr(payment, name, value)
    payment.updated_at = timezone.now()
    payment.save(update_fields=[*changes, "updated_at"])


def _unavailable(payment: Payment, operation: str, exc: ProviderUnavailable) -> PaymentProviderUnavailable:
    return PaymentProviderUnavailable(payment_id=payment.id, operation=operation, reason=exc.reason)


# --- authorize --------------------------------------------------------------------------------------


def payment_authorize(
    *,
    key: str,
    order_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: Decimal,
    currency: str,
    payment_method: str,
    invoice_lines: Sequence[InvoiceLineData] = (),
    billing_address: Mapping[str, str] | None = None,
) -> Payment:
    _key_check(key)
    id_check(order_id=order_id, user_id=user_id)
    _amount_check(amount, currency)
    text_check("payment_method", payment_method, 100)
    lines = _invoice_lines_check(invoice_lines, amount, currency)
    address = _billing_address_check(billing_address)
    request = {
        "order_id": order_id,
        "user_id": user_id,
        "amount": amount,
        "currency": currency,
        "payment_method": payment_method,
        "invoice_lines": lines,
        "billing_address": address,
    }
    error: PaymentsError | None = None
    with transaction.atomic():
        # Claim the key (INSERT ... ON CONFLICT DO NOTHING), then lock whichever row holds it: a racing
        # caller with the same key waits here for the first one's outcome.
        claim = Payment(**request, key=key, provider=provider().name)
        Payment.objects.bulk_create([claim], ignore_conflicts=True)
        payment = Payment.objects.select_for_update(of=("self",)).get(key=key)
        if any(getattr(payment, name) != value for name, value in request.items()):
            raise PaymentKeyConflict(key=key)
        error = _authorize_settle(payment)
    if error is not None:
        raise error
    return payment


def _authorize_settle(payment: Payment) -> PaymentsError | None:
    """Bring a locked payment past its authorization: replay a settled one, ask the provider about one
    in doubt, and authorize one that the provider has not acted on. Returns the error to raise after
    commit (a decline, or the provider's silence), None when the payment is authorized or beyond."""
    if payment.status == Status.FAILED:
        return _failure(payment)
    if payment.status == Status.IN_DOUBT and payment.doubt == Doubt.AUTHORIZE:
        try:
            result = _lookup(payment, f"{payment.key}:authorize")
        except ProviderUnavailable as exc:
            return _unavailable(payment, "authorize", exc)
        if result is not None:
            return _authorize_result(payment, result)
    elif payment.status != Status.PENDING:
        return None
    try:
        result = _call(
            payment,
            Kind.AUTHORIZE,
            f"{payment.key}:authorize",
            payment.amount,
            lambda: provider().authorize(
                key=f"{payment.key}:authorize",
                amount=payment.amount,
                currency=payment.currency,
                payment_method=payment.payment_method,
            ),
        )
    except ProviderUnavailable as exc:
        _save(payment, status=Status.IN_DOUBT, doubt=Doubt.AUTHORIZE)
        return _unavailable(payment, "authorize", exc)
    return _authorize_result(payment, result)


def _authorize_result(payment: Payment, result: ProviderResult) -> PaymentsError | None:
    if result.outcome == APPROVED:
        _save(payment, status=Status.AUTHORIZED, doubt=Doubt.NONE, provider_reference=result.reference)
        bus.publish(
            events.PaymentAuthorized(
                payment_id=payment.id,
                order_id=payment.order_id,
                user_id=payment.user_id,
                amount=payment.amount,
                currency=payment.currency,
                provider=payment.provider,
                provider_reference=payment.provider_reference,
            )
        )
        return None
    _save(
        payment,
        status=Status.FAILED,
        doubt=Doubt.NONE,
        failure_code=result.decline_code or result.outcome,
        failure_message=(result.message or "")[:300],
    )
    bus.publish(
        events.PaymentFailed(
            payment_id=payment.id,
            order_id=payment.order_id,
            user_id=payment.user_id,
            amount=payment.amount,
            currency=payment.currency,
            failure_code=payment.failure_code,
            failure_message=payment.failure_message,
        )
    )
    return _failure(payment)


def _failure(payment: Payment) -> PaymentsError:
    """The error a failed payment raises, the same on every replay."""
    if payment.failure_code == "invalid_payment_method" or payment.failure_code == INVALID:
        return InvalidPaymentMethod(payment_id=payment.id, message=payment.failure_message)
    return PaymentDeclined(
        payment_id=payment.id, decline_code=payment.failure_code, message=payment.failure_message
    )


# --- capture ----------------------------------------------------------------------------------------


def payment_capture(*, key: str, payment_id: uuid.UUID, amount: Decimal | None = None) -> Payment:
    _key_check(key)
    error: PaymentsError | None = None
    with transaction.atomic():
        payment = _locked(payment_id)
        error = _capture_locked(payment, key, amount)
    if error is not None:
        raise error
    return payment


def _capture_locked(payment: Payment, key: str, amount: Decimal | None) -> PaymentsError | None:
    if payment.capture_key == key and payment.status in CAPTURED_STATUSES:
        if amount is not None and amount != payment.captured_amount:
            return PaymentKeyConflict(key=key)  # the key names another capture than this one
        return None
    if payment.capture_key != key and Payment.objects.filter(capture_key=key).exists():
        return PaymentKeyConflict(key=key)  # this key already captured another payment
    if payment.capture_key is None and payment.status in CAPTURED_STATUSES:
        # Captured without a capture call of ours (the provider's webhook told us first): the caller's
        # capture is what happened, so it is answered as done and its key kept for replays.
        if amount is not None and amount != payment.captured_amount:
            return PaymentStateConflict(payment_id=payment.id, status=payment.status, operation="capture")
        _save(payment, capture_key=key)
        return None
    if payment.status == Status.IN_DOUBT and payment.doubt == Doubt.CAPTURE:
        try:
            result = _lookup(payment, f"{payment.capture_key}:capture")
        except ProviderUnavailable as exc:
            return _unavailable(payment, "capture", exc)
        if result is not None and result.outcome == APPROVED:
            _captured(payment, result.amount or payment.amount)
            if payment.capture_key == key:
                return None
        else:
            _save(payment, status=Status.AUTHORIZED, doubt=Doubt.NONE)
    elif payment.status in (Status.PENDING, Status.IN_DOUBT):
        error = _authorize_settle(payment)
        if error is not None:
            return error
    if payment.status != Status.AUTHORIZED:
        return PaymentStateConflict(payment_id=payment.id, status=payment.status, operation="capture")
    amount = payment.amount if amount is None else amount
    _amount_check(amount, payment.currency)
    if amount > payment.amount:
        authorized = money.quantize(amount=payment.amount, currency=payment.currency)
        return CaptureExceedsAuthorized(payment_id=payment.id, authorized=authorized)
    call_key = f"{key}:capture"  # our key, as sent to the provider and logged
    try:
        result = _call(
            payment,
            Kind.CAPTURE,
            call_key,
            amount,
            lambda: provider().capture(key=call_key, reference=payment.provider_reference, amount=amount),
        )
    except ProviderUnavailable as exc:
        # The key is kept with the doubt: the next call with it asks the provider what it did.
        _save(payment, status=Status.IN_DOUBT, doubt=Doubt.CAPTURE, capture_key=key)
        return _unavailable(payment, "capture", exc)
    if result.outcome != APPROVED:
        return PaymentDeclined(
            payment_id=payment.id, decline_code=result.decline_code, message=result.message
        )
    _captured(payment, amount, capture_key=key)
    return None


def _captured(payment: Payment, amount: Decimal, **changes) -> None:
    """Record a capture the provider made (with any other `changes` to the payment, in the same write),
    its event and its invoice."""
    _save(payment, status=Status.CAPTURED, doubt=Doubt.NONE, captured_amount=amount, **changes)
    bus.publish(
        events.PaymentCaptured(
            payment_id=payment.id,
            order_id=payment.order_id,
            amount=amount,
            currency=payment.currency,
        )
    )
    invoices.invoice_issue(payment, amount)  # in the same transaction: a capture always has its invoice


# --- void -------------------------------------------------------------------------------------------


def payment_void(
    *, key: str, payment_id: uuid.UUID | None = None, order_id: uuid.UUID | None = None
) -> tuple[Payment, ...]:
    """Void a payment, or every payment of an order not yet captured; a no-op for one already voided or
    failed, and for an order the provider never charged."""
    _key_check(key)
    if (payment_id is None) == (order_id is None):
        raise ValidationError("Give exactly one of payment_id and order_id.")
    error: PaymentsError | None = None
    with transaction.atomic():
        if payment_id is not None:
            ids = [payment_id]
        else:
            ids = list(Payment.objects.filter(order_id=order_id).order_by("pk").values_list("pk", flat=True))
        payments = [_locked(pk) for pk in sorted(ids)]  # ascending, as every multi-row lock here
        for payment in payments:
            error = _void_locked(payment, key)
            if error is not None:
                break
    if error is not None:
        raise error
    return tuple(payments)


def _void_locked(payment: Payment, key: str) -> PaymentsError | None:
    if payment.status in (Status.VOIDED, Status.FAILED):
        return None
    if payment.status in CAPTURED_STATUSES or (
        payment.status == Status.IN_DOUBT and payment.doubt == Doubt.CAPTURE
    ):
        return PaymentStateConflict(payment_id=payment.id, status=payment.status, operation="void")
    reference = payment.provider_reference
    if payment.status in (Status.PENDING, Status.IN_DOUBT):
        # The authorize's answer never came: ask what the provider did before voiding.
        try:
            found = _lookup(payment, f"{payment.key}:authorize")
        except ProviderUnavailable as exc:
            return _unavailable(payment, "void", exc)
        if found is None or found.outcome != APPROVED:
            # Nothing stands at the provider: voiding a key it never saw is a no-op success.
            _voided(payment)
            return None
        reference = found.reference
        _save(payment, provider_reference=reference)
    void_key = f"{key}:void:{payment.id}"
    try:
        result = _call(
            payment, Kind.VOID, void_key, None, lambda: provider().void(key=void_key, reference=reference)
        )
    except ProviderUnavailable as exc:
        return _unavailable(payment, "void", exc)
    if result.outcome != APPROVED:
        return PaymentStateConflict(payment_id=payment.id, status=payment.status, operation="void")
    _voided(payment)
    return None


def _voided(payment: Payment) -> None:
    _save(payment, status=Status.VOIDED, doubt=Doubt.NONE)
    bus.publish(events.PaymentVoided(payment_id=payment.id, order_id=payment.order_id))


# --- refund -----------------------------------------------------------------------------------------


def payment_refund(
    *, key: str, payment_id: uuid.UUID, amount: Decimal, reason: str, actor: str = ""
) -> Refund:
    _key_check(key)
    text_check("reason", reason, 300)
    text_check("actor", actor, 200, required=False)
    with transaction.atomic():
        payment = _locked(payment_id)
        outcome = _refund_locked(payment, key, amount, reason, actor)
    # Raised after commit, so the transaction log keeps the provider's answer (a decline, or none);
    # nothing of the refund itself was written, and a retry with the same key repeats the keyed call,
    # which the provider answers without refunding twice.
    if isinstance(outcome, PaymentsError):
        raise outcome
    return outcome


def _refund_locked(
    payment: Payment, key: str, amount: Decimal, reason: str, actor: str
) -> Refund | PaymentsError:
    existing = Refund.objects.filter(key=key).first()
    if existing is not None:
        if existing.payment_id != payment.id or existing.amount != amount:
            raise PaymentKeyConflict(key=key)
        return existing
    _amount_check(amount, payment.currency)
    if payment.status not in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
        raise PaymentStateConflict(payment_id=payment.id, status=payment.status, operation="refund")
    remaining = money.quantize(
        amount=payment.captured_amount - payment.refunded_amount, currency=payment.currency
    )
    if amount > remaining:
        raise RefundExceedsCaptured(payment_id=payment.id, remaining=remaining)
    call_key = f"{key}:refund"  # our key, as sent to the provider and logged
    try:
        result = _call(
            payment,
            Kind.REFUND,
            call_key,
            amount,
            lambda: provider().refund(key=call_key, reference=payment.provider_reference, amount=amount),
        )
    except ProviderUnavailable as exc:
        return _unavailable(payment, "refund", exc)
    if result.outcome != APPROVED:
        message = result.message or f"The provider declined the refund ({result.decline_code})."
        return RefundDeclined(payment_id=payment.id, decline_code=result.decline_code, message=message)
    refund = Refund.objects.create(
        key=key,
        payment=payment,
        amount=amount,
        reason=reason,
        actor=actor,
        status=Refund.Status.SUCCEEDED,
        provider_reference=result.reference,
    )
    refunded = payment.refunded_amount + amount
    status = Status.REFUNDED if refunded == payment.captured_amount else Status.PARTIALLY_REFUNDED
    _save(payment, refunded_amount=refunded, status=status)
    bus.publish(
        events.PaymentRefunded(
            payment_id=payment.id,
            order_id=payment.order_id,
            refund_id=refund.id,
            amount=amount,
            currency=payment.currency,
            refunded_total=refunded,
            fully_refunded=status == Status.REFUNDED,
        )
    )
    return refund
