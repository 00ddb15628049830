"""Catalog test helpers: a small category tree, products with stock, and callers with tokens."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from contexts.catalog import services
from contexts.catalog.models import Movement


def bearer(*roles: str, user_id: int = 7) -> str:
    token = AccessToken()
    token["user_id"] = user_id
    token["roles"] = list(roles)
    return f"Bearer {token}"


@pytest.fixture
def staff_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer("customer", "staff", user_id=1))
    return client


@pytest.fixture
def customer_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer("customer", user_id=2))
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
