"""A second handlers module of the test context, whose function name is already taken there.

`tests.busapp.handlers.on_pinged_b` is subscribed as "testbus.on_pinged_b"; this function would
claim the same name. The registry must refuse it, never let it replace the first.
"""

from tests.busapp import events
from tests.busapp.models import Effect


def on_pinged_b(event, envelope):
    Effect.objects.create(handler="other-b", event_id=envelope.id, correlation_id=envelope.correlation_id)


SUBSCRIPTIONS = {events.Pinged: [on_pinged_b]}
