"""The shipping context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class ShippingConfig(ContextConfig):
    default = True
    name = "contexts.shipping"
    label = "shipping"
    verbose_name = "Shipping"
    responsibilities = (
        "Shipments: created and cancelled idempotently by key, their labels bought from the carrier",
        "Tracking: numbers, the timeline of tracking events, the status held to one transition table",
        "Carrier adapters (the carrier port; the sandbox and HTTP adapters) and their signed webhooks",
    )
    depends_on = ()
