"""Rendering message templates: a locked-down Django template engine with bounded output, syntax checks
with line numbers, and the sample payload the admin previews with.

Templates are written by operators, so they get their own engine: the built-in tags and filters plus
`tz` and `l10n`, no other tag library, no template loader (an `{% include %}` finds nothing), no
`{% debug %}`, and every rendering held to the limits of contexts.notifications.limits (characters,
steps, and the filters whose argument sizes their result). Subject, text and SMS/push bodies render
without HTML escaping; an email's HTML body escapes every value.

The context of a message is the event's fields by name (`{{ order_number }}`, `{{ total }}`) and
`customer` (`{{ customer.name }}`, `{{ customer.email }}`), rendered in the recipient's language and
time zone.

What a part may become: each at most NOTIFICATIONS["MAX_BODY_CHARS"] characters while it renders, and
free of characters no text column can hold (NUL, a lone surrogate); the subject, one line, at most
SUBJECT_MAX_LENGTH characters (the log's column): at send time a longer one is cut, at save time a
template whose sample renders a longer one is refused.
"""

import contextlib
import dataclasses
import datetime as dt
import types
import typing
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone, translation

from contexts.notifications import limits
from contexts.notifications.limits import RenderRefused
from contexts.notifications.models import SUBJECT_MAX_LENGTH
from integration.bus import registry
from integration.text import describe_character, unstorable_character

FALLBACK_LOCALE = "en"

_ENGINE_OPTIONS = {
    "debug": True,  # syntax errors carry their line number (template_debug)
    "loaders": [],
    "libraries": {"tz": "django.templatetags.tz", "l10n": "django.templatetags.l10n"},
    "builtins": ["contexts.notifications.limits"],  # overrides debug, for, lorem and every filter
}
_TEXT = Engine(autoescape=False, **_ENGINE_OPTIONS)
_HTML = Engine(autoescape=True, **_ENGINE_OPTIONS)

FIELD_LABELS = {"subject": "subject", "body_text": "text body", "body_html": "HTML body"}


def max_chars() -> int:
    """The characters one part of a message may take (NOTIFICATIONS["MAX_BODY_CHARS"])."""
    return settings.NOTIFICATIONS["MAX_BODY_CHARS"]


def _engine(field: str) -> Engine:
    return _HTML if field == "body_html" else _TEXT


def _render_one(field: str, source: str, context: Mapping[str, Any]) -> str:
    """One part rendered within the limits, as it is stored: the subject on one line, a body stripped.
    RenderRefused past a limit, or if the result holds a character no text column can hold."""
    engine = _engine(field)
    template = limits.bounded(engine.from_string(source))
    with limits.within(limits.Budget(chars=max_chars())):
        # A Context escapes unless told otherwise, whatever the engine says: tell it.
        text = template.render(Context(dict(context), autoescape=engine.autoescape))
    text = " ".join(text.split()) if field == "subject" else text.strip()
    char = unstorable_character(text)
    if char:
        raise RenderRefused(f"it renders {describe_character(char)}, which no text column can hold")
    return text


def normal_locale(locale: str) -> str:
    """A language tag in the form templates are stored under: lower case, hyphens ("pt_BR" -> "pt-br")."""
    return (locale or "").strip().replace("_", "-").lower()


def locale_candidates(locale: str) -> list[str]:
    """Where to look for a template in `locale`: the tag, its language, then English ("pt-br", "pt", "en")."""
    tag = normal_locale(locale)
    found = [tag, tag.split("-")[0], FALLBACK_LOCALE]
    return [c for i, c in enumerate(found) if c and c not in found[:i]]


def template_errors(sources: Mapping[str, str], *, event_type: str = "") -> dict[str, str]:
    """{field: "Line N: message"} for each template source that does not compile, or that fails to
    render with the event type's sample payload (an `{% include %}`, say), or renders more than a
    message may take. Empty when all are good."""
    errors = {}
    context = sample_context(event_type)
    for field, source in sources.items():
        if not source:
            continue
        if len(source) > max_chars():
            errors[field] = f"A template is at most {max_chars():,} characters."
            continue
        try:
            text = _render_one(field, source, context)
        except TemplateSyntaxError as exc:
            line = getattr(exc, "template_debug", {}).get("line")
            where = f"Line {line}: " if line else ""
            errors[field] = f"{where}{exc}"
        except RenderRefused as exc:
            errors[field] = f"Too much for a message: {exc} with the sample payload."
        except Exception as exc:  # a render-time failure: refuse it now rather than at send time
            errors[field] = f"The template fails to render: {type(exc).__name__}: {exc}"
        else:
            if field == "subject" and len(text) > SUBJECT_MAX_LENGTH:
                errors[field] = (
                    f"The subject renders more than {SUBJECT_MAX_LENGTH:,} characters with the sample "
                    "payload."
                )
    return errors


@dataclasses.dataclass(frozen=True, kw_only=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str


def render(
    *,
    subject: str,
    body_text: str,
    body_html: str,
    context: Mapping[str, Any],
    locale: str = FALLBACK_LOCALE,
    time_zone: str = "",
) -> Rendered:
    """Render a template's three parts with `context`, in `locale` and `time_zone` (an IANA name; UTC
    if empty). The subject is one line (line breaks a value brought in become spaces), cut to
    SUBJECT_MAX_LENGTH characters ending in "…" if longer. A time the zone cannot show (a year 9999
    instant east of UTC) is shown in UTC. RenderRefused if a part takes more than a message may; a
    broken template raises what Django raises."""
    language = normal_locale(locale) or FALLBACK_LOCALE
    with translation.override(language), timezone.override(time_zone or dt.UTC):
        context = _showable(context, timezone.get_current_timezone())
        parts = {
            field: _render_one(field, source, context) if source else ""
            for field, source in (("subject", subject), ("body_text", body_text), ("body_html", body_html))
        }
    if len(parts["subject"]) > SUBJECT_MAX_LENGTH:
        parts["subject"] = parts["subject"][: SUBJECT_MAX_LENGTH - 1].rstrip() + "…"
    return Rendered(**parts)


class _ShownAsIs(dt.datetime):
    # django.utils.timezone.template_localtime leaves a value with this flag in its own zone.
    convert_to_local_time = False


def _showable(context: Mapping[str, Any], zone: dt.tzinfo) -> dict[str, Any]:
    """The context with each aware time the zone cannot show (it would be before year 1 or after
    9999 there) replaced by the same instant in UTC, flagged to be shown as it is."""
    showable = dict(context)
    for name, value in context.items():
        if not (isinstance(value, dt.datetime) and value.tzinfo is not None):
            continue
        try:
            value.astimezone(zone)
        except (OverflowError, ValueError):
            with contextlib.suppress(OverflowError, ValueError):
                value = value.astimezone(dt.UTC)
            showable[name] = _ShownAsIs(
                *value.timetuple()[:6], value.microsecond, tzinfo=value.tzinfo, fold=value.fold
            )
    return showable


def event_context(event: Any, *, customer_name: str, customer_email: str) -> dict[str, Any]:
    """A message's template context: the event's fields by name, and `customer`."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return {**fields, "customer": _customer(customer_name, customer_email)}


def _customer(name: str, email: str) -> Mapping[str, str]:
    # Read-only: a template could call a dict's methods without arguments (`{{ customer.clear }}`),
    # and one context serves every channel of an event.
    return types.MappingProxyType({"name": name, "email": email})


# --- the admin's preview ------------------------------------------------------------------------------

_SAMPLE_TEXT = {
    "order_number": "SO-10042",
    "tracking_number": "SBX123456789012",
    "carrier": "sandbox",
    "currency": "EUR",
    "email": "ada@example.com",
    "locale": "en",
    "cancellation_reason": "An item is out of stock.",
}
_SAMPLE_UUID = uuid.UUID("0b5e7a1c-2f3d-4e6a-8b9c-0d1e2f3a4b5c")


def _sample_value(name: str, hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is uuid.UUID:
        return _SAMPLE_UUID
    if hint is Decimal:
        return Decimal("49.90")
    if hint is bool:
        return True
    if hint is int:
        return 1
    if hint is dt.datetime:
        return timezone.now().replace(microsecond=0)
    if hint is dt.date:
        return timezone.now().date()
    if hint is str:
        return _SAMPLE_TEXT.get(name, f"sample {name.replace('_', ' ')}")
    return None


def sample_context(event_type: str) -> dict[str, Any]:
    """A plausible context for `event_type` (its fields filled by type), for previews and checks; only
    `customer` if no event class is registered under that name."""
    fields: dict[str, Any] = {}
    try:
        cls = registry.event_type_named(event_type).cls
    except registry.UnknownEventType:
        cls = None
    if cls is not None:
        hints = typing.get_type_hints(cls)
        fields = {f.name: _sample_value(f.name, hints[f.name]) for f in dataclasses.fields(cls)}
    return {**fields, "customer": _customer("Ada Lovelace", "ada@example.com")}
