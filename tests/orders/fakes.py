"""Fake saga participants for the fast tests: they record every call with its key, keep just enough
state to answer like the real ones (a payment authorized, captured, refunded or voided), and raise the
real error classes when a test scripts a failure."""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from contexts.catalog.api import ReservationCommitted, ReservationNotFound
from contexts.payments.api import PaymentProviderUnavailable


@dataclass
class Fake:
    # Shared by the three fakes of a test, so the order of calls across participants can be asserted.
    journal: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    script: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    always: dict[str, Exception] = field(default_factory=dict)

    def fail(self, name: str, *errors: Exception, always: Exception | None = None) -> None:
        """Raise `errors` on the next calls of `name`, one per call; or `always`, on every call."""
        self.script[name].extend(errors)
        if always is not None:
            self.always[name] = always

    def _enter(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))
        self.journal.append(name)
        if name in self.always:
            raise self.always[name]
        if self.script[name]:
            raise self.script[name].pop(0)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def keys(self, name: str) -> list[str]:
        return [kw.get("key") for n, kw in self.calls if n == name]


class FakeCatalog(Fake):
    def __init__(self, journal: list[str]):
        super().__init__(journal=journal)
        self.reservations: dict[str, str] = {}

    def stock_reserve(self, *, key, lines, ttl):
        self._enter("stock_reserve", key=key, lines=lines, ttl=ttl)
        self.reservations.setdefault(key, "active")
        return SimpleNamespace(key=key, status="active")

    def stock_extend(self, *, key, ttl):
        self._enter("stock_extend", key=key, ttl=ttl)
        return SimpleNamespace(key=key, status=self.reservations.get(key))

    def stock_commit(self, *, key):
        self._enter("stock_commit", key=key)
        self.reservations[key] = "committed"

    def stock_release(self, *, key):
        self._enter("stock_release", key=key)
        if key not in self.reservations:
            raise ReservationNotFound(key)
        if self.reservations[key] == "committed":
            raise ReservationCommitted(key)
        self.reservations[key] = "released"

    def stock_return(self, *, key):
        self._enter("stock_return", key=key)
        self.reservations[key] = "returned"


class FakePayments(Fake):
    def __init__(self, journal: list[str]):
        super().__init__(journal=journal)
        self.payments: dict[str, SimpleNamespace] = {}  # by authorize key

    lose_answer = False  # the provider charges, but the answer never comes (the payment is in doubt)

    def payment_authorize(self, *, key, order_id, amount, **kwargs):
        self._enter("payment_authorize", key=key, order_id=order_id, amount=amount, **kwargs)
        payment = self.payments.setdefault(
            key,
            SimpleNamespace(
                id=uuid.uuid4(),
                order_id=order_id,
                status="authorized",
                amount=amount,
                captured_amount=Decimal("0"),
                refunded_amount=Decimal("0"),
            ),
        )
        if self.lose_answer:
            payment.status = "in_doubt"
            raise PaymentProviderUnavailable(payment_id=payment.id, operation="authorize", reason="timeout")
        return payment

    def _by_id(self, payment_id):
        return next(p for p in self.payments.values() if p.id == payment_id)

    def payment_capture(self, *, key, payment_id, amount=None):
        self._enter("payment_capture", key=key, payment_id=payment_id)
        payment = self._by_id(payment_id)
        payment.status, payment.captured_amount = "captured", payment.amount
        return payment

    def payment_void(self, *, key, payment_id=None, order_id=None):
        self._enter("payment_void", key=key, payment_id=payment_id)
        payment = self._by_id(payment_id)
        payment.status = "voided"
        return (payment,)

    def payment_refund(self, *, key, payment_id, amount, reason, actor=""):
        self._enter("payment_refund", key=key, payment_id=payment_id, amount=amount)
        payment = self._by_id(payment_id)
        payment.status, payment.refunded_amount = "refunded", payment.refunded_amount + amount

    def payments_for_order(self, *, order_id):
        self._enter("payments_for_order", order_id=order_id)
        return tuple(p for p in self.payments.values() if p.order_id == order_id)

    def status(self) -> list[str]:
        return [p.status for p in self.payments.values()]


class FakeShipping(Fake):
    def __init__(self, journal: list[str]):
        super().__init__(journal=journal)
        self.shipments: dict[str, SimpleNamespace] = {}

    def shipment_create(self, *, key, order_id, user_id, address, lines):
        self._enter("shipment_create", key=key, order_id=order_id, address=address, lines=lines)
        return self.shipments.setdefault(
            key, SimpleNamespace(id=uuid.uuid4(), order_id=order_id, status="created")
        )

    def shipments_for_order(self, *, order_id):
        return tuple(s for s in self.shipments.values() if s.order_id == order_id)

    def shipment_cancel(self, *, key, shipment_id):
        self._enter("shipment_cancel", key=key, shipment_id=shipment_id)
        shipment = next(s for s in self.shipments.values() if s.id == shipment_id)
        shipment.status = "cancelled"
        return shipment
