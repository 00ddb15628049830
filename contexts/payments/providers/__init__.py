"""The provider port: what the payments services need from a payment provider, and the adapter the
settings choose (`PAYMENTS_PROVIDER`, a dotted path; the in-process sandbox by default).

Every call carries our idempotency key, `<key>:<operation>`, so a repeated call cannot act twice at the
provider. An adapter answers with a ProviderResult (approved, declined or invalid) or raises
ProviderUnavailable when the answer never came: then the outcome at the provider is unknown, and
`lookup(key=...)` tells what, if anything, that keyed call did.

The provider also calls us: its webhooks (signed, verified at the edge) report what became of a charge.
`parse_webhook(body)` reads one into a ProviderEvent in the port's terms, or None for an event type the
adapter does not handle.
"""

import dataclasses
import functools
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

APPROVED = "approved"
DECLINED = "declined"  # the provider refused: decline_code says why
INVALID = "invalid"  # the request itself is refused (an unknown payment method)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderResult:
    outcome: str  # approved | declined | invalid
    reference: str = ""  # the provider's id of the charge
    amount: Decimal | None = None
    decline_code: str = ""
    message: str = ""
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)


# What a webhook can report about a charge (ProviderEvent.status): the payment statuses it leads to.
EVENT_AUTHORIZED = "authorized"  # the authorization was approved: the charge holds the amount
EVENT_CAPTURED = "captured"  # the charge was captured (amount: how much)
EVENT_VOIDED = "voided"  # the authorization was released: nothing stands at the provider
EVENT_FAILED = "failed"  # the authorization was refused (failure_code says why)
EVENT_STATUSES = (EVENT_AUTHORIZED, EVENT_CAPTURED, EVENT_VOIDED, EVENT_FAILED)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderEvent:
    """One webhook event, as the payments services need it. The charge is named by `key`, by
    `reference`, or both: at least one is set."""

    id: str  # the provider's event id, 1-200 characters: deliveries are deduplicated by it
    type: str  # the provider's event type, as sent ("payment.captured")
    created: int  # when the provider says it happened, unix seconds
    status: str  # one of EVENT_STATUSES
    key: str = ""  # our idempotency key of the call that made the charge, "<payment key>:authorize"
    reference: str = ""  # the provider's id of the charge
    amount: Decimal | None = None  # authorized: the amount held; captured: the amount captured
    currency: str = ""  # of `amount`
    failure_code: str = ""  # failed: the decline code (card_declined, insufficient_funds...)
    message: str = ""


class ProviderUnavailable(Exception):
    """No answer came (timeout, connection lost, provider error): the call's effect is unknown.

    retryable: whether the payments services may repeat the call (same key) before giving up. An
    adapter whose own client already retried with backoff (the HTTP adapter) raises it False, so the
    call is not retried twice over.
    """

    def __init__(self, reason: str, *, retryable: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class PaymentProvider(Protocol):
    name: str

    def authorize(
        self, *, key: str, amount: Decimal, currency: str, payment_method: str
    ) -> ProviderResult: ...

    def capture(self, *, key: str, reference: str, amount: Decimal) -> ProviderResult: ...

    def void(self, *, key: str, reference: str) -> ProviderResult: ...

    def refund(self, *, key: str, reference: str, amount: Decimal) -> ProviderResult: ...

    def lookup(self, *, key: str) -> ProviderResult | None:
        """What the call made with `key` did, or None if the provider never acted on it."""
        ...

    def parse_webhook(self, body: bytes) -> ProviderEvent | None:
        """The event in a webhook's raw `body` (its signature already verified), or None for an event
        type this adapter does not handle. Raises django.core.exceptions.ValidationError when the body
        is not what the provider sends (not JSON, not an object, a field missing or of the wrong type)."""
        ...


@functools.cache
def _load(path: str) -> PaymentProvider:
    return import_string(path)()


def provider() -> PaymentProvider:
    """The adapter `settings.PAYMENTS_PROVIDER` names (one instance per process)."""
    return _load(settings.PAYMENTS_PROVIDER)
