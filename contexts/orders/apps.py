"""The orders context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class OrdersConfig(ContextConfig):
    default = True
    name = "contexts.orders"
    label = "orders"
    verbose_name = "Orders"
    responsibilities = (
        "Carts and checkout",
        "Orders and order history",
        "The order saga: orchestrates catalog, payments and shipping",
    )
    depends_on = ("users", "catalog", "payments", "shipping")
