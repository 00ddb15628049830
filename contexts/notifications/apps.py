"""The notifications context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class NotificationsConfig(ContextConfig):
    default = True
    name = "contexts.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    responsibilities = (
        "Templates and channels: email, SMS, push",
        "Per-user notification preferences",
        "The delivery log: every message, exactly once per event, channel and recipient",
    )
    # Users for contact details (api) and its events; orders, shipping and payments for their events
    # (payments' api too: a refund names the payment, whose payer is asked for).
    depends_on = ("users", "orders", "payments", "shipping")
