"""Handlers with the map misspelt, the mistake the registry must refuse at start-up."""

from tests.busapp import events


def on_pinged(event, envelope):
    return None


SUBSCRIPTION = {events.Pinged: [on_pinged]}  # sic: the registry looks for SUBSCRIPTIONS
