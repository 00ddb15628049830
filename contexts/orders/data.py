"""The orders context's error types (and the DTOs its api returns), apart from `api` so that services
and views can raise them without importing the module that calls them."""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from integration.errors import Conflict, ContextError, Invalid, NotFound

# --- DTOs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderData:
    id: uuid.UUID
    number: str
    user_id: uuid.UUID
    # pending | ready_to_ship | shipped | delivered | cancelled | needs_attention
    status: str
    cancellation_reason: str
    total: Decimal
    currency: str
    created_at: dt.datetime


# --- errors -----------------------------------------------------------------------------------------


class OrdersError(ContextError):
    """Root of the orders context's errors; each concrete one is also a kind from integration.errors."""


class CartItemNotFound(OrdersError, NotFound):
    code = "cart-item-not-found"
    title = "No such line in your cart."


class ProductUnavailable(OrdersError, Invalid):
    """A SKU that is unknown or no longer sold."""

    code = "product-unavailable"
    title = "A product is not available."
    skus: tuple[str, ...]

    def __init__(self, *, skus: list[str] | tuple[str, ...]):
        super().__init__(f"Unknown or unavailable SKU(s): {', '.join(skus)}.", skus=tuple(skus))


class QuantityLimitExceeded(OrdersError, Invalid):
    code = "quantity-limit-exceeded"
    title = "Too many units of one product."
    sku: str
    limit: int

    def __init__(self, *, sku: str, limit: int):
        super().__init__(f"At most {limit} units of {sku} per order.", sku=sku, limit=limit)


class CartFull(OrdersError, Conflict):
    code = "cart-full"
    title = "The cart holds as many products as it can."
    limit: int

    def __init__(self, *, limit: int):
        super().__init__(f"A cart holds at most {limit} different products.", limit=limit)


class CartEmpty(OrdersError, Conflict):
    code = "cart-empty"
    title = "There is nothing to check out."

    def __init__(self):
        super().__init__("Nothing to check out: the cart is empty, or the request's lines are.")


class MixedCurrencies(OrdersError, Conflict):
    code = "mixed-currencies"
    title = "Products priced in different currencies cannot be checked out together."
    currencies: tuple[str, ...]

    def __init__(self, *, currencies: list[str] | tuple[str, ...]):
        super().__init__(
            f"The lines are priced in {', '.join(currencies)}: check out each currency separately.",
            currencies=tuple(currencies),
        )


class ShippingAddressRequired(OrdersError, Invalid):
    code = "shipping-address-required"
    title = "A shipping address is required."

    def __init__(self):
        super().__init__("Send a shipping_address, or save a default one in your profile.")


class OrderNotFound(OrdersError, NotFound):
    code = "order-not-found"
    title = "No such order."
    order_id: uuid.UUID

    def __init__(self, *, order_id: uuid.UUID):
        super().__init__(f"No order {order_id}.", order_id=order_id)


class OrderNotCancellable(OrdersError, Conflict):
    code = "order-not-cancellable"
    title = "The order can no longer be cancelled."
    order_status: str

    def __init__(self, *, status: str):
        super().__init__(
            f"The order is {status}: only pending or ready_to_ship orders can be cancelled.",
            order_status=status,
        )


class SagaActionRefused(OrdersError, Conflict):
    """An operator's action that the saga's state does not allow (retrying a completed saga...)."""

    code = "saga-action-refused"
    title = "The saga's state does not allow this action."
