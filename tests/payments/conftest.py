"""Payments test helpers: an order's worth of authorize arguments, and what the sandbox charged."""

import datetime as dt
import uuid
from decimal import Decimal

from rest_framework.test import APIClient

from contexts.payments import api
from contexts.payments.models import ProviderCall, SandboxCharge
from integration.tokens import user_tokens_revoke
from tests.catalog.conftest import bearer

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


def client_for(user_id, *roles: str):
    """An API client carrying a token for `user_id` with `roles` (never revoked)."""
    user_tokens_revoke(user_id=user_id, valid_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(*(roles or ("customer",)), user_id=user_id))
    return client
