"""Payments use case driven by the provider's webhooks: what the provider reports about a charge moves
its payment forward, never back, once per event.

Webhooks arrive late, twice or out of order, so each event is applied in one transaction that locks
the payment, records the delivery (integration.webhooks.first_delivery: a redelivery changes nothing)
and moves the payment only to a later step of its one order:

    pending / in_doubt (authorize)  ->  authorized / in_doubt (capture)  ->  captured
                                                                          ->  partially_refunded
                                                                          ->  refunded
    voided: from any step before captured.     failed: from before authorized.     Both are ends.

A report of a step the payment has reached already, or passed (a late `authorized` after `captured`),
changes nothing. One that skips a step publishes the skipped step's event first (a `captured` on a
payment in doubt: PaymentAuthorized, then PaymentCaptured), so consumers see the same events whatever
order the webhooks came in. The state changes are services.py's own helpers, so each event is published
exactly as an api call publishes it, in the same transaction.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from contexts.payments.models import Payment
from contexts.payments.providers import (
    APPROVED,
    DECLINED,
    EVENT_AUTHORIZED,
    EVENT_CAPTURED,
    EVENT_FAILED,
    EVENT_VOIDED,
    ProviderEvent,
    ProviderResult,
)
from contexts.payments.services import (
    Doubt,
    Status,
    _amount_check,
    _authorize_result,
    _captured,
    _save,
    _voided,
)
from integration import webhooks
from integration.logging import get_logger

log = get_logger(__name__)

# What the answer to a delivery says happened.
APPLIED = "applied"  # the payment moved; its events are published
UNCHANGED = "unchanged"  # the payment had reached that step, or passed it, or ended
DUPLICATE = "duplicate"  # this event was handled before
IGNORED = "ignored"  # no payment of ours matches, or the event contradicts it (logged)
OUTCOMES = (APPLIED, UNCHANGED, DUPLICATE, IGNORED)

# Our idempotency key of a payment's authorize call, as services.py sends it: "<payment key>:authorize".
_AUTHORIZE_SUFFIX = ":authorize"

# A payment's steps in their one order (see the module docstring); voided and failed end it.
_ORDER = (Status.PENDING, Status.AUTHORIZED, Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)
_ENDS = (Status.VOIDED, Status.FAILED)
_PENDING, _AUTHORIZED, _CAPTURED = (
    _ORDER.index(s) for s in (Status.PENDING, Status.AUTHORIZED, Status.CAPTURED)
)


def _step(payment: Payment) -> int | None:
    """Where the payment stands in _ORDER; None once it has ended."""
    if payment.status in _ENDS:
        return None
    if payment.status == Status.IN_DOUBT:
        # A capture in doubt was asked of an authorized payment; an authorize in doubt, of a pending one.
        return _AUTHORIZED if payment.doubt == Doubt.CAPTURE else _PENDING
    return _ORDER.index(payment.status)


def payment_webhook(*, provider: str, event: ProviderEvent) -> str:
    """Apply one verified webhook `event` from `provider` (its adapter's name, e.g. "sandbox").

    The payment is the provider's payment whose authorize key is `event.key` ("<key>:authorize"), else
    the one with the provider reference `event.reference`. Returns what happened: APPLIED, UNCHANGED,
    DUPLICATE (event id seen before: nothing done) or IGNORED (no such payment, or the event names a
    different charge, amount or currency than ours: logged as a warning, nothing recorded, so a
    corrected redelivery is still handled). Raises nothing for an event it cannot apply.
    """
    context = {"provider": provider, "event_id": event.id, "event_type": event.type}
    with transaction.atomic():
        payment = _payment_locked(provider, event)
        if payment is None:
            log.warning(
                "payments.webhook.unknown_payment", key=event.key, reference=event.reference, **context
            )
            return IGNORED
        context["payment_id"] = str(payment.id)
        contradiction = _contradiction(payment, event)
        if contradiction:
            log.warning("payments.webhook.contradicts_payment", reason=contradiction, **context)
            return IGNORED
        if not webhooks.first_delivery(
            source=f"payments.{provider}", event_id=event.id, event_type=event.type
        ):
            log.info("payments.webhook.duplicate", **context)
            return DUPLICATE
        before = payment.status
        moved = _advance(payment, event)
    log.info(
        "payments.webhook.applied" if moved else "payments.webhook.unchanged",
        status_before=before,
        status=payment.status,
        **context,
    )
    return APPLIED if moved else UNCHANGED


def _payment_locked(provider: str, event: ProviderEvent) -> Payment | None:
    payments = Payment.objects.select_for_update(of=("self",)).filter(provider=provider)
    if event.key.endswith(_AUTHORIZE_SUFFIX):
        payment = payments.filter(key=event.key.removesuffix(_AUTHORIZE_SUFFIX)).first()
        if payment is not None:
            return payment
    if event.reference:
        return payments.filter(provider_reference=event.reference).order_by("pk").first()
    return None


def _contradiction(payment: Payment, event: ProviderEvent) -> str:
    """Why the event cannot be about this payment's charge, or "" if it can."""
    if event.reference and payment.provider_reference and event.reference != payment.provider_reference:
        return "another charge: the references differ"
    if event.amount is None:
        return ""
    if event.currency != payment.currency:
        return "another currency"
    if event.status == EVENT_AUTHORIZED and event.amount != payment.amount:
        return "another amount authorized"
    try:
        _amount_check(event.amount, payment.currency)
    except ValidationError:
        return "an amount the payment cannot hold"
    if event.amount > payment.amount:
        return "more captured than authorized"
    return ""


def _advance(payment: Payment, event: ProviderEvent) -> bool:
    """Move the locked payment to what the event reports, if that is later in its order. True if it
    moved."""
    step = _step(payment)
    if step is None:
        return False
    if event.status == EVENT_FAILED:
        if step != _PENDING:
            return False
        failure = ProviderResult(outcome=DECLINED, decline_code=event.failure_code, message=event.message)
        _authorize_result(payment, failure)
        return True
    if event.status == EVENT_VOIDED:
        if step >= _CAPTURED:
            return False
        if event.reference and not payment.provider_reference:
            _save(payment, provider_reference=event.reference)
        _voided(payment)
        return True
    target = {EVENT_AUTHORIZED: _AUTHORIZED, EVENT_CAPTURED: _CAPTURED}[event.status]
    if step >= target:
        return False
    if step == _PENDING:
        reference = event.reference or payment.provider_reference
        _authorize_result(payment, ProviderResult(outcome=APPROVED, reference=reference))
    if target == _CAPTURED:
        _captured(payment, event.amount if event.amount is not None else payment.amount)
    return True
