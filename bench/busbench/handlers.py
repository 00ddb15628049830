"""The benchmark's event and its two subscribers. They do nothing: what is measured is the bus."""

import uuid
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Measured:
    EVENT_TYPE: ClassVar[str] = "benchbus.Measured.v1"
    n: int
    ref: uuid.UUID


def on_measured_first(event, envelope):
    return None


def on_measured_second(event, envelope):
    return None


SUBSCRIPTIONS = {Measured: [on_measured_first, on_measured_second]}
