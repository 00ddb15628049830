"""Payments test helpers: an order's worth of authorize arguments, and what the sandbox charged."""

import uuid
from decimal import Decimal

from contexts.payments import api
from contexts.payments.models import ProviderCall, SandboxCharge

ORDER_ID = uuid.UUID("00000000-0000-4000-8000-00000000a001")
USER_ID = uuid.UUID("00000000-0000-4000-8000-00000000b001")


def authorize(key: str = "saga-1:authorize", method: str = "pm_sandbox_ok", amount: str = "100.00", **kw):
    return api.payment_authorize(
        key=key,
        order_id=kw.pop("order_id", ORDER_ID),
        user_id=kw.pop("user_id", USER_ID),
        amount=Decimal(amount),
        currency=kw.pop("currency", "EUR"),
        payment_method=method,
    )


def charges() -> int:
    """Authorizations the provider ever made (its side of the wire)."""
    return SandboxCharge.objects.count()


def provider_calls(kind: str) -> int:
    return ProviderCall.objects.filter(kind=kind).count()
