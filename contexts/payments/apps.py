"""The payments context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class PaymentsConfig(ContextConfig):
    default = True
    name = "contexts.payments"
    label = "payments"
    verbose_name = "Payments"
    responsibilities = (
        "Payments: authorize, capture, void, each idempotent by key; charges in doubt settled by lookup",
        "Refunds, billing and invoices",
        "Payment provider adapters (the provider port; the sandbox adapter)",
    )
    depends_on = ()
