"""Catalog test helpers: a small category tree, products with stock, and callers with tokens."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from contexts.catalog import services
from contexts.catalog.models import Movement
from integration.tokens import user_tokens_revoke

STAFF_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
CUSTOMER_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")


def bearer(*roles: str, user_id: uuid.UUID) -> str:
    """A token as the users context issues it: the caller is known by its claims alone."""
    token = AccessToken()
    token["user_id"] = str(user_id)
    token["roles"] = list(roles)
    return f"Bearer {token}"


@pytest.fixture(autouse=True)
def _callers_never_revoked(_clean_cache):
    # The edge checks each token against its user's revocation time; these callers have none (the
    # catalog never reads the users table, so they need not exist there).
    for user_id in (STAFF_ID, CUSTOMER_ID):
        user_tokens_revoke(user_id=user_id, valid_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


@pytest.fixture
def staff_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer("customer", "staff", user_id=STAFF_ID))
    return client


@pytest.fixture
def customer_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer("customer", user_id=CUSTOMER_ID))
    return client


def make_product(sku: str, *, price: str = "10.00", stock: int = 0, category: str | None = None, **kw):
    product = services.product_create(
        sku=sku,
        name=kw.pop("name", f"Product {sku}"),
        price=Decimal(price),
        currency=kw.pop("currency", "EUR"),
        category=category,
        **kw,
    )
    if stock:
        services.stock_adjust(
            sku=sku, delta=stock, reason="initial stock", actor="test", kind=Movement.Kind.RECEIPT
        )
    return product


@pytest.fixture
def tree(db):
    """home > kitchen > cutlery, home > garden, books."""
    services.category_create(slug="home", name="Home")
    services.category_create(slug="kitchen", name="Kitchen", parent_slug="home")
    services.category_create(slug="cutlery", name="Cutlery", parent_slug="kitchen")
    services.category_create(slug="garden", name="Garden", parent_slug="home")
    services.category_create(slug="books", name="Books")
