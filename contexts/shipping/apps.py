"""The shipping context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class ShippingConfig(ContextConfig):
    default = True
    name = "contexts.shipping"
    label = "shipping"
    verbose_name = "Shipping"
    responsibilities = (
        "Shipments and their cancellation",
        "Tracking numbers and tracking events",
        "Carrier adapters",
    )
    depends_on = ()
