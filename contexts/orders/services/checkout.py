"""Checkout: turn the cart (or explicit lines) into a pending order priced by the server, and start its
saga — in one transaction, so an order never exists without its saga nor a saga without its order.

The slow work (stock, payment, shipment) belongs to the saga; checkout only reads prices and writes.
"""

import dataclasses
import secrets
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from contexts.catalog import api as catalog
from contexts.orders import events
from contexts.orders.data import (
    CartEmpty,
    MixedCurrencies,
    ProductUnavailable,
    QuantityLimitExceeded,
    ShippingAddressRequired,
)
from contexts.orders.models import MAX_LINE_QUANTITY, CartItem, Order, OrderLine, OrderStatusChange
from contexts.orders.saga import engine
from contexts.orders.saga.definition import ORDER_SAGA_V1
from contexts.users import api as users
from integration import bus

# Crockford's base 32: no I, L, O or U, so a number read aloud or retyped is not misread.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_NUMBER_TRIES = 5


def order_number() -> str:
    """A short, unique-enough order number: "<yy>-<8 characters>", e.g. "26-7K3M9QX4" (32^8 per year;
    the unique column settles the rare collision)."""
    return f"{timezone.now():%y}-{''.join(secrets.choice(_ALPHABET) for _ in range(8))}"


def _default_address(user_id: uuid.UUID) -> dict[str, str]:
    try:
        address = users.user_get(user_id=user_id).shipping_address
    except users.UserNotFound:
        address = None
    if address is None:
        raise ShippingAddressRequired()
    return dataclasses.asdict(address)


def _wanted(lines: Sequence[Mapping]) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line["sku"]] = wanted.get(line["sku"], 0) + int(line["quantity"])
        if wanted[line["sku"]] > MAX_LINE_QUANTITY:
            raise QuantityLimitExceeded(sku=line["sku"], limit=MAX_LINE_QUANTITY)
    return wanted


def _priced(wanted: dict[str, int]) -> list[OrderLine]:
    try:
        prices = catalog.products_price(skus=list(wanted))
    except catalog.ProductNotFound as exc:
        raise ProductUnavailable(skus=exc.skus) from None
    currencies = sorted({p.currency for p in prices})
    if len(currencies) > 1:
        raise MixedCurrencies(currencies=currencies)
    return [
        OrderLine(
            sku=p.sku,
            name=p.name[:200],
            quantity=wanted[p.sku],
            unit_price=p.unit_price,
            line_total=p.unit_price * wanted[p.sku],
        )
        for p in prices
    ], currencies[0]


def order_place(
    *,
    user_id: uuid.UUID,
    checkout_key: str,
    payment_method: str,
    shipping_address: Mapping[str, str] | None = None,
    lines: Sequence[Mapping] | None = None,
) -> Order:
    """Create a pending order from `lines` ([{sku, quantity}]) or else the user's cart (then emptied),
    priced by the catalog now, and start its saga after commit. `checkout_key` names the request: the
    same key returns the order it made, never a second one.

    Errors: CartEmpty; ProductUnavailable (unknown or inactive SKUs); MixedCurrencies;
    QuantityLimitExceeded; ShippingAddressRequired when none is given and the profile has none.
    """
    existing = Order.objects.filter(checkout_key=checkout_key).first()
    if existing is not None:
        return existing
    address = dict(shipping_address) if shipping_address else _default_address(user_id)
    try:
        with transaction.atomic():
            from_cart = lines is None
            if from_cart:
                items = list(
                    CartItem.objects.select_for_update().filter(cart__user_id=user_id).order_by("sku")
                )
                lines = [{"sku": i.sku, "quantity": i.quantity} for i in items]
            wanted = _wanted(lines)
            if not wanted:
                raise CartEmpty()
            priced, currency = _priced(wanted)
            subtotal = sum((line.line_total for line in priced), Decimal("0"))
            order = _order_create(
                user_id=user_id,
                checkout_key=checkout_key,
                currency=currency,
                subtotal=subtotal,
                total=subtotal,
                shipping_address=address,
                payment_method=payment_method,
            )
            for line in priced:
                line.order = order
            OrderLine.objects.bulk_create(priced)
            OrderStatusChange.objects.create(order=order, status=Order.Status.PENDING, at=order.created_at)
            if from_cart:
                CartItem.objects.filter(id__in=[i.id for i in items]).delete()
            engine.saga_start(order=order, definition=ORDER_SAGA_V1)
            bus.publish(
                events.OrderPlaced(
                    order_id=order.id,
                    user_id=order.user_id,
                    order_number=order.number,
                    total=order.total,
                    currency=order.currency,
                    lines=tuple(
                        events.OrderLineData(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price)
                        for line in priced
                    ),
                )
            )
            return order
    except IntegrityError:
        # The same checkout ran twice at once (a retry after a lost answer): the first one's order.
        existing = Order.objects.filter(checkout_key=checkout_key).first()
        if existing is None:
            raise
        return existing


def _order_create(**fields) -> Order:
    for attempt in range(_NUMBER_TRIES):
        try:
            with transaction.atomic():
                return Order.objects.create(number=order_number(), **fields)
        except IntegrityError:
            if (
                attempt == _NUMBER_TRIES - 1
                or Order.objects.filter(checkout_key=fields["checkout_key"]).exists()
            ):
                raise
    raise AssertionError("unreachable")
