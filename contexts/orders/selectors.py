"""Queries of the orders context: the cart priced live, and a customer's orders."""

import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from contexts.catalog import api as catalog
from contexts.orders.data import OrderNotFound
from contexts.orders.models import CartItem, Order


def _prices(skus: list[str]) -> tuple[dict[str, Any], set[str]]:
    """{sku: PriceData} of the sellable SKUs, and the SKUs that are not (unknown or deactivated)."""
    if not skus:
        return {}, set()
    try:
        return {p.sku: p for p in catalog.products_price(skus=skus)}, set()
    except catalog.ProductNotFound as exc:
        gone = set(exc.skus)
        rest = [s for s in skus if s not in gone]
        return ({p.sku: p for p in catalog.products_price(skus=rest)} if rest else {}), gone


def _available(sku: str) -> int:
    try:
        return catalog.stock_level(sku=sku).available
    except catalog.ProductNotFound:
        return 0


def cart_priced(*, user_id: uuid.UUID) -> dict[str, Any]:
    """The user's cart priced now by the catalog: `lines` (each with unit_price, line_total, currency
    and a `warning` when the product is gone or its stock is short), `subtotal` and `currency` (null
    when the lines are in several currencies, with a cart-level warning)."""
    items = list(CartItem.objects.filter(cart__user_id=user_id).order_by("added_at", "sku"))
    prices, _gone = _prices([i.sku for i in items])
    lines = []
    for item in items:
        price = prices.get(item.sku)
        warning = None
        if price is None:
            warning = {
                "code": "product-unavailable",
                "detail": "This product is no longer sold.",
                "available": 0,
            }
        else:
            available = _available(item.sku)
            if available < item.quantity:
                warning = {
                    "code": "insufficient-stock",
                    "detail": f"Only {available} available.",
                    "available": available,
                }
        lines.append(
            {
                "id": item.id,
                "sku": item.sku,
                "name": price.name if price else "",
                "quantity": item.quantity,
                "unit_price": price.unit_price if price else None,
                "line_total": price.unit_price * item.quantity if price else None,
                "currency": price.currency if price else None,
                "warning": warning,
            }
        )
    currencies = sorted({line["currency"] for line in lines if line["currency"]})
    warnings = []
    subtotal = currency = None
    if len(currencies) == 1:
        currency = currencies[0]
        subtotal = sum((line["line_total"] for line in lines if line["line_total"] is not None), Decimal("0"))
    elif len(currencies) > 1:
        warnings.append(
            {
                "code": "mixed-currencies",
                "detail": f"The lines are priced in {', '.join(currencies)}: check each currency out alone.",
            }
        )
    return {"lines": lines, "subtotal": subtotal, "currency": currency, "warnings": warnings}


def orders_of(*, user_id: uuid.UUID, status: str | None = None) -> QuerySet[Order]:
    """The user's orders, newest first (optionally of one status)."""
    orders = Order.objects.filter(user_id=user_id)
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-created_at", "-id")


def order_visible(*, order_id: uuid.UUID, user_id: uuid.UUID) -> Order:
    """The user's order with its lines and timeline. OrderNotFound for another user's, as for none."""
    order = Order.objects.filter(id=order_id, user_id=user_id).prefetch_related("lines", "timeline").first()
    if order is None:
        raise OrderNotFound(order_id=order_id)
    return order
