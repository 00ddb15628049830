"""A marketing subscription wired as notifications wires its own, on the test bus queue."""

from contexts.notifications import services
from contexts.notifications.models import Category
from integration.bus import registry
from tests.notifications.newsletter import events

CONTEXT = "testbus"


def on_newsletter_published(event, envelope):
    services.notify(
        event=event,
        event_id=envelope.id,
        event_type=envelope.type,
        user_id=event.user_id,
        category=Category.MARKETING,
    )


SUBSCRIPTIONS = {events.NewsletterPublished: [on_newsletter_published]}


def register() -> None:
    registry.register_event(events.NewsletterPublished)
    registry.subscribe_map(context=CONTEXT, subscriptions=SUBSCRIPTIONS)


def unregister() -> None:
    registry.unsubscribe(f"{CONTEXT}.on_newsletter_published")
    registry.unregister_event(events.NewsletterPublished.EVENT_TYPE)
