"""The order saga, in one table: each step's action, compensation, retry policy and deadline.

Every saga records the version it started with; a change to the table is a new version, registered
beside the old one while sagas of the old one may still run.
"""

# ruff: noqa: E501 (a table is read across: one step per line)

from contexts.orders.saga import steps
from contexts.orders.saga.engine import Definition, Retry, Step, register

# fmt: off
ORDER_SAGA_V1 = register(Definition(
    name="order",
    version=1,
    steps=(
        #    step         action                    compensation           retry (attempts, backoff base/cap s)     deadline s  on a business error
        Step("reserve",   steps.reserve_stock,      steps.release_stock,   Retry(5, 0.5, 10),                        120,      "out_of_stock"),
        Step("authorize", steps.authorize_payment,  steps.undo_payment,    Retry(4, 1, 30, unless=steps.in_doubt),   300,      "payment_declined"),
        Step("ship",      steps.create_shipment,    steps.cancel_shipment, Retry(5, 1, 30),                          300,      "address_rejected"),
        Step("confirm",   steps.capture_and_commit, steps.undo_confirm,    Retry(5, 1, 30),                          300,      "payment_declined"),
    ),
    compensation_retry=Retry(8, 1, 60),
    compensation_overdue=120,
    on_completed=lambda saga: _orders().order_saga_completed(saga=saga),
    on_compensated=lambda saga: _orders().order_saga_compensated(saga=saga),
    on_failed=lambda saga, step: _orders().order_saga_failed(saga=saga, step=step),
))
# fmt: on


def _orders():
    from contexts.orders.services import orders

    return orders
