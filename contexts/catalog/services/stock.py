"""Stock levels: receipts and corrections by operators, and what every stock change shares with them.

Every change of stock happens with its stock rows locked, writes one ledger movement per SKU and
publishes its events in the same transaction. Several stock rows are always locked together in
ascending SKU order (`stocks_lock`), so two multi-SKU changes can never wait on each other in a cycle.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from contexts.catalog import events
from contexts.catalog.data import InvalidLines, ProductNotFound, StockAdjustmentRejected, StockLimitExceeded
from contexts.catalog.models import MAX_ON_HAND, Movement, Stock
from integration import bus

Kind = Movement.Kind

# The largest quantity one line or one adjustment may move. Far below MAX_ON_HAND, so that no sum of a
# stock level and one change can overflow the 32-bit columns before the bound is checked.
MAX_QUANTITY = 1_000_000


def whole_quantity(value: object, *, low: int, high: int) -> bool:
    """True if `value` is an int (not a bool) from `low` to `high`."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def stocks_lock(skus: Iterable[str], *, active_only: bool = False) -> dict[str, tuple[int, int]]:
    """Lock the stock rows of `skus` in ascending SKU order (the global lock order); return their
    (on_hand, reserved) by SKU. With `active_only`, rows of unknown and inactive products are left out
    (and not locked)."""
    qs = Stock.objects.select_for_update(of=("self",)).filter(pk__in=sorted(set(skus)))
    if active_only:
        qs = qs.filter(product__is_active=True)
    return {
        sku: (on_hand, reserved)
        for sku, on_hand, reserved in qs.order_by("pk").values_list("pk", "on_hand", "reserved")
    }


def movement(
    sku: str,
    *,
    kind: str,
    on_hand_after: int,
    reserved_after: int,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    **fields,
) -> Movement:
    """An unsaved ledger row (the caller saves its batch with bulk_create)."""
    return Movement(
        stock_id=sku,
        kind=kind,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        on_hand_after=on_hand_after,
        reserved_after=reserved_after,
        **fields,
    )


def publish_availability(sku: str, before: int, after: int) -> None:
    """OutOfStock when a SKU's available quantity falls to zero, StockReplenished when it comes back."""
    if before > 0 and after <= 0:
        bus.publish(events.OutOfStock(sku=sku))
    elif before <= 0 and after > 0:
        bus.publish(events.StockReplenished(sku=sku, available=after))


def stock_adjust(*, sku: str, delta: int, reason: str, actor: str, kind: str = Kind.ADJUSTMENT) -> Stock:
    """A receipt (goods in, delta > 0) or a correction (either sign) of `sku`'s on_hand, with a reason
    for the ledger. Returns the stock row as changed.

    Errors: ValidationError for a kind that is neither (a caller's mistake); InvalidLines for a delta
    that is not a whole number from 1 to MAX_QUANTITY in size, a negative receipt or a blank reason;
    ProductNotFound; StockAdjustmentRejected if on_hand would fall below what is reserved (held goods
    must be released first); StockLimitExceeded if on_hand would pass MAX_ON_HAND.
    """
    if kind not in (Kind.ADJUSTMENT, Kind.RECEIPT):
        raise ValidationError({"kind": [f"An adjustment is a receipt or an adjustment, not {kind!r}."]})
    if not whole_quantity(delta, low=-MAX_QUANTITY, high=MAX_QUANTITY) or delta == 0:
        raise InvalidLines(f"delta must be a non-zero whole number up to {MAX_QUANTITY} in size.")
    if kind == Kind.RECEIPT and delta < 0:
        raise InvalidLines("A receipt adds stock: its delta must be positive.")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidLines("An adjustment needs a reason.")
    with transaction.atomic():
        stock = Stock.objects.select_for_update(of=("self",)).filter(pk=sku).first()
        if stock is None:
            raise ProductNotFound([sku])
        if stock.on_hand + delta < stock.reserved:
            raise StockAdjustmentRejected(
                f"{sku}: on hand {stock.on_hand} {delta:+} would fall below the {stock.reserved} reserved."
            )
        if stock.on_hand + delta > MAX_ON_HAND:
            raise StockLimitExceeded(sku=sku, on_hand=stock.on_hand, delta=delta, limit=MAX_ON_HAND)
        before = stock.available
        stock.on_hand += delta
        stock.save(update_fields=["on_hand", "updated_at"])
        movement(
            sku,
            kind=kind,
            on_hand_delta=delta,
            on_hand_after=stock.on_hand,
            reserved_after=stock.reserved,
            actor=actor,
            reason=reason.strip(),
        ).save()
        publish_availability(sku, before, stock.available)
    return stock
