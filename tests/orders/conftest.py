"""Orders test helpers: an order made directly in the database, and a saga driver that delivers step
messages by hand (no broker), so a test can drop, repeat or reorder them."""

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

import pytest

from contexts.orders.models import Order, OrderLine, Saga
from contexts.orders.saga import engine, participants
from contexts.orders.saga.definition import ORDER_SAGA_V1
from tests.orders.fakes import FakeCatalog, FakePayments, FakeShipping
from tests.split.topology import monolith_settings, split_topology_running

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "1 Analytical Way",
    "line2": "",
    "city": "London",
    "region": "",
    "postal_code": "N1 9GU",
    "country": "GB",
    "phone": "",
}


@dataclass(frozen=True)
class Message:
    kind: str
    saga_id: uuid.UUID
    step: str
    attempt: int
    countdown: float | None


@dataclass
class Driver:
    """Collects the step messages the engine sends and delivers them when told."""

    capture: object
    sent: list[Message] = field(default_factory=list)

    def __call__(self, kind, saga_id, step, attempt, countdown):
        self.sent.append(Message(kind, saga_id, step, attempt, countdown))

    def do(self, fn, **kwargs):
        """Run an engine call, then its after-commit work (the test's transaction never commits)."""
        with self.capture(execute=True):
            return fn(**kwargs)

    def deliver(self, message: Message) -> str:
        fn = {
            engine.RUN: engine.step_run,
            engine.COMPENSATE: engine.compensation_run,
            engine.LATE: engine.compensation_late,
        }[message.kind]
        return self.do(fn, saga_id=message.saga_id, step=message.step, attempt=message.attempt)

    def next(self) -> str:
        return self.deliver(self.sent.pop(0))

    def run(self, limit: int = 100) -> list[str]:
        """Deliver messages until none is left; returns what each delivery did."""
        outcomes = []
        while self.sent and len(outcomes) < limit:
            outcomes.append(self.next())
        assert not self.sent, "the saga did not settle"
        return outcomes


@pytest.fixture
def fakes(monkeypatch):
    journal: list[str] = []
    catalog, payments, shipping = FakeCatalog(journal), FakePayments(journal), FakeShipping(journal)
    monkeypatch.setattr(participants, "catalog", catalog)
    monkeypatch.setattr(participants, "payments", payments)
    monkeypatch.setattr(participants, "shipping", shipping)
    return SimpleNamespace(catalog=catalog, payments=payments, shipping=shipping, journal=journal)


@pytest.fixture
def driver(django_capture_on_commit_callbacks):
    d = Driver(capture=django_capture_on_commit_callbacks)
    engine.use_scheduler(d)
    yield d
    engine.use_scheduler(None)


def make_order(*, user_id: uuid.UUID | None = None, lines=(("MUG-1", 2, "9.50"),), **fields) -> Order:
    total = sum((Decimal(price) * qty for _, qty, price in lines), Decimal("0"))
    order = Order.objects.create(
        number=f"T-{uuid.uuid4().hex[:10]}",
        user_id=user_id or uuid.uuid4(),
        currency="EUR",
        subtotal=total,
        total=total,
        shipping_address=ADDRESS,
        payment_method=fields.pop("payment_method", "pm_sandbox_ok"),
        checkout_key=uuid.uuid4().hex,
        **fields,
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            sku=sku,
            name=f"Product {sku}",
            quantity=qty,
            unit_price=Decimal(price),
            line_total=Decimal(price) * qty,
        )
        for sku, qty, price in lines
    )
    return order


def start_saga(driver: Driver, order: Order | None = None) -> Saga:
    order = order or make_order()
    return driver.do(engine.saga_start, order=order, definition=ORDER_SAGA_V1)


# The end-to-end tests (test_end_to_end.py) run twice, unchanged: against the monolith (one worker
# consuming every queue) and against the split topology (payments and notifications as a service of
# their own, tests/split/topology.py), this process then configured as one of the monolith's.
@pytest.fixture(scope="module", params=["monolith", pytest.param("split", marks=pytest.mark.slow)])
def topology(request, suite_worker, django_db_blocker):
    if request.param == "monolith":
        yield None
        return
    with split_topology_running(suite_worker, django_db_blocker) as split:
        yield split


@pytest.fixture
def celery_worker_process(topology, suite_worker):
    """The worker running the saga's steps: the suite's, or the split monolith's."""
    if topology is None:
        yield suite_worker
        return
    with monolith_settings(topology):
        yield topology.monolith.worker
