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
        "The delivery log",
    )
    depends_on = ()
