"""The "probe" context's operations: what a served call sees, and each kind of error crossing back."""

import dataclasses
from decimal import Decimal

from django.core.exceptions import ValidationError

from integration import correlation, errors
from integration import services as interface


@dataclasses.dataclass(frozen=True, kw_only=True)
class Seen:
    text: str
    correlation_id: str | None
    causation_id: str | None


class ProbeRefused(errors.Conflict):
    code = "probe-refused"
    title = "The probe is refused."
    skus: tuple[str, ...]
    limit: Decimal


class ProbeDown(errors.TransientError):
    code = "probe-down"
    retry_after: int


@interface.operation("probe", read=True)
def probe_echo(*, text: str) -> Seen:
    """What the serving side received, and the ids of the work it runs under."""
    return Seen(text=text, correlation_id=correlation.get(), causation_id=correlation.get_causation())


@interface.operation("probe", read=True)
def probe_fail(*, kind: str) -> str:
    """Raise one kind of error: business, transient, validation, or a bug."""
    if kind == "business":
        raise ProbeRefused("Too many.", skus=("A", "B"), limit=Decimal("9.50"))
    if kind == "transient":
        raise ProbeDown(retry_after=3)
    if kind == "validation":
        raise ValidationError({"lines": ["At most three lines."]})
    if kind == "bug":
        raise KeyError("a bug is not an interface error")
    return kind


@interface.operation("probe")
def probe_note(*, text: str) -> str:
    """An unkeyed command: sent once, never retried."""
    return text


@interface.operation("probe")
def probe_keyed(*, key: str, text: str) -> str:
    """A keyed command: repeating it with the same key has no second effect, so it may be retried."""
    return text
