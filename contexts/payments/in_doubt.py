"""Charges in doubt, settled by beat: every payment left `in_doubt` past a grace period is asked about
(`lookup` by its key) and brought to what really happened at the provider.

The caller usually settles its own doubt first, by calling again with its key; this sweep is for the
payments nobody comes back for. It never moves a customer's money on its own (no authorize, no
capture); the only provider write it makes is a void that releases a hold nobody wants any more.

    authorize in doubt, the provider authorized   -> authorized (PaymentAuthorized); the saga captures
                                                     or voids it, as it would have without the doubt
    authorize in doubt, the provider never acted  -> failed, failure_code `provider_unavailable`
                                                     (PaymentFailed); a retry with the key raises the
                                                     same PaymentDeclined and charges nothing
    authorize in doubt, payment older than         -> voided (PaymentVoided): any authorization found is
      PAYMENTS_IN_DOUBT_VOID_AFTER_SECONDS             voided at the provider, so the customer's funds
                                                     are not held for a checkout long abandoned
    capture in doubt, the provider captured       -> captured (PaymentCaptured)
    capture in doubt, the provider never did      -> authorized again; the saga's retry with its key
                                                     captures
    the provider does not answer                  -> still in doubt, for the next run

Why `failed` and not back to `pending` when the provider never acted: nothing would ever pick a pending
payment up again, and charging the card now, for a checkout that may be gone, is not this sweep's call.
The grace (PAYMENTS_IN_DOUBT_GRACE_SECONDS) must exceed the longest provider call (attempts x read
timeout), so that no authorize is still on its way when lookup says the provider never saw it.

Each payment is settled in its own transaction, claimed with SKIP LOCKED (two runs, or a caller
retrying right now, never settle it twice), at most PAYMENTS_IN_DOUBT_BATCH per run. One the provider
does not answer about is not claimed again in the same run. The settling itself is the services' own
code (`_authorize_result`, `_captured`, `_void_locked`, `_lookup`): the same transitions, transaction
log rows and events as a caller's retry would make.
"""

import datetime as dt
import uuid
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contexts.payments.models import Payment
from contexts.payments.providers import APPROVED, DECLINED, ProviderResult, ProviderUnavailable
from contexts.payments.services import _authorize_result, _captured, _lookup, _save, _void_locked
from integration.logging import get_logger

Status = Payment.Status
Doubt = Payment.Doubt

log = get_logger(__name__)

# The failure code of an authorization the provider never received.
NEVER_RECEIVED = "provider_unavailable"


def payments_settle_in_doubt(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Settle the payments in doubt for longer than PAYMENTS_IN_DOUBT_GRACE_SECONDS, oldest doubt
    first, at most PAYMENTS_IN_DOUBT_BATCH of them. Returns how many ended in each status
    (`{"authorized": 2, "in_doubt": 1}`: `in_doubt` counts those the provider did not answer about)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.PAYMENTS_IN_DOUBT_GRACE_SECONDS)
    outcomes: Counter[str] = Counter()
    seen: list[uuid.UUID] = []  # still in doubt after this run's try: not claimed again in this run
    for _ in range(max(1, settings.PAYMENTS_IN_DOUBT_BATCH)):
        with transaction.atomic():
            payment = (
                Payment.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Status.IN_DOUBT, updated_at__lte=cutoff)
                .exclude(pk__in=seen)
                .order_by("updated_at", "id")
                .first()
            )
            if payment is None:
                break
            seen.append(payment.pk)
            doubt = payment.doubt
            _settle(payment, now)
        outcomes[payment.status] += 1
        log.info("payments.in_doubt_settled", payment_id=str(payment.pk), doubt=doubt, status=payment.status)
    return dict(outcomes)


def _settle(payment: Payment, now: dt.datetime) -> None:
    """Bring one payment in doubt, locked, to what the provider did (or leave it, if it does not say)."""
    try:
        if payment.doubt == Doubt.CAPTURE:
            result = _lookup(payment, f"{payment.capture_key}:capture")
            if result is not None and result.outcome == APPROVED:
                _captured(payment, result.amount or payment.amount)
            else:
                _save(payment, status=Status.AUTHORIZED, doubt=Doubt.NONE)
        elif payment.created_at <= now - dt.timedelta(seconds=settings.PAYMENTS_IN_DOUBT_VOID_AFTER_SECONDS):
            # Looks the authorization up, voids it if it stands; a provider's silence is returned.
            error = _void_locked(payment, f"{payment.key}:abandoned")
            if error is not None:
                log.warning("payments.in_doubt_void_failed", payment_id=str(payment.pk), error=str(error))
        else:
            result = _lookup(payment, f"{payment.key}:authorize")
            if result is None:
                result = ProviderResult(
                    outcome=DECLINED,
                    decline_code=NEVER_RECEIVED,
                    message="The payment provider never received the authorization; nothing was charged.",
                )
            _authorize_result(payment, result)
    except ProviderUnavailable as exc:
        # The failed lookup is logged (committed with this transaction); the next run asks again.
        log.warning("payments.in_doubt_lookup_failed", payment_id=str(payment.pk), reason=exc.reason)
