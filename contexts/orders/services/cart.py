"""The customer's cart: lines of SKU and quantity (1-100), one line per SKU, at most MAX_CART_LINES."""

import uuid

from django.db import transaction

from contexts.catalog import api as catalog
from contexts.orders.data import CartFull, CartItemNotFound, ProductUnavailable, QuantityLimitExceeded
from contexts.orders.models import MAX_CART_LINES, MAX_LINE_QUANTITY, Cart, CartItem


def _cart_locked(user_id: uuid.UUID) -> Cart:
    cart, _ = Cart.objects.get_or_create(user_id=user_id)
    return Cart.objects.select_for_update().get(pk=cart.pk)


def cart_item_add(*, user_id: uuid.UUID, sku: str, quantity: int) -> CartItem:
    """Add `quantity` of `sku` (an active product) to the user's cart, onto its line if there is one.
    ProductUnavailable for an unknown or inactive SKU; QuantityLimitExceeded past 100 units;
    CartFull past MAX_CART_LINES products."""
    try:
        catalog.product_get(sku=sku)
    except catalog.ProductNotFound:
        raise ProductUnavailable(skus=[sku]) from None
    with transaction.atomic():
        cart = _cart_locked(user_id)
        item = CartItem.objects.filter(cart=cart, sku=sku).first()
        if item is None:
            if CartItem.objects.filter(cart=cart).count() >= MAX_CART_LINES:
                raise CartFull(limit=MAX_CART_LINES)
            return CartItem.objects.create(cart=cart, sku=sku, quantity=quantity)
        if item.quantity + quantity > MAX_LINE_QUANTITY:
            raise QuantityLimitExceeded(sku=sku, limit=MAX_LINE_QUANTITY)
        item.quantity += quantity
        item.save(update_fields=["quantity"])
        return item


def _item_locked(user_id: uuid.UUID, item_id: uuid.UUID) -> CartItem:
    item = CartItem.objects.select_for_update().filter(id=item_id, cart__user_id=user_id).first()
    if item is None:
        raise CartItemNotFound(f"No line {item_id} in your cart.")
    return item


def cart_item_update(*, user_id: uuid.UUID, item_id: uuid.UUID, quantity: int | None = None) -> CartItem:
    """Set a line's quantity (1-100; None leaves it). CartItemNotFound for a line that is not in the
    user's cart."""
    with transaction.atomic():
        item = _item_locked(user_id, item_id)
        if quantity is not None:
            item.quantity = quantity
            item.save(update_fields=["quantity"])
        return item


def cart_item_remove(*, user_id: uuid.UUID, item_id: uuid.UUID) -> None:
    """Remove the line from the user's cart if it is there (a DELETE repeated, or naming a line that is
    not theirs, changes nothing)."""
    CartItem.objects.filter(id=item_id, cart__user_id=user_id).delete()


def cart_clear(*, user_id: uuid.UUID) -> None:
    CartItem.objects.filter(cart__user_id=user_id).delete()
