"""Generated documentation: the context map and the event catalogue, rendered from the running registries.

Both are derived at run time from the installed ContextConfigs and the bus registry (never from a
hand-kept list), so the copies embedded in README.md can be checked against the code. The output is
markdown, sorted and free of timestamps: the same code always renders the same text.
"""

import dataclasses
import re
import typing
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integration import services
from integration.bus import registry
from integration.bus.core import event_fields
from integration.contexts import context_configs

NONE = "—"


def _codes(items) -> str:
    return ", ".join(f"`{item}`" for item in items) or NONE


def _cell(text: str) -> str:
    # GitHub tables split cells at every "|", code spans included, unless it is escaped.
    return text.replace("|", "\\|")


# "contexts.catalog.events.StockLineData" -> "StockLineData": value types are listed by class name.
_QUALIFIED = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z])")


def _type(label: str) -> str:
    return _cell(_QUALIFIED.sub("", label))


def _fields_table(cls: type) -> list[str]:
    fields = event_fields(cls)
    if not fields:
        return ["No fields."]
    return ["| field | type |", "|---|---|", *(f"| `{name}` | `{_type(label)}` |" for name, label in fields)]


def _value_types(classes) -> list[type]:
    """The dataclasses nested in the given events' fields (lines of an order, ...), each once, sorted."""
    found: dict[str, type] = {}

    def walk(tp) -> None:
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            key = f"{tp.__module__}.{tp.__qualname__}"
            if key not in found and not hasattr(tp, "EVENT_TYPE"):
                found[key] = tp
                for hint in typing.get_type_hints(tp).values():
                    walk(hint)
            return
        for arg in typing.get_args(tp):
            walk(arg)

    for cls in classes:
        for hint in typing.get_type_hints(cls).values():
            walk(hint)
    return [found[name] for name in sorted(found)]


def context_map() -> str:
    """Each context in settings order: responsibilities, owned tables, interface, dependencies, events."""
    lines = [
        "### Context map",
        "",
        "Generated from each context's `apps.py` and the bus registry by `python manage.py contexts`;",
        "refresh with `python manage.py contexts --write-readme`.",
        "",
    ]
    for config in context_configs():
        boundary = config.boundary()
        lines += [f"#### {boundary.name}", ""]
        lines.append("- **Responsibilities:**" + ("" if boundary.responsibilities else f" {NONE}"))
        lines += [f"  - {responsibility}" for responsibility in boundary.responsibilities]
        lines.append(f"- **Owns tables:** {_codes(sorted(boundary.owns_tables))}")
        interface = [f"{op.name}({', '.join(op.parameters)})" for op in services.operations(boundary.name)]
        lines.append(f"- **Interface (`api.py`):** {_codes(interface)}")
        lines.append(f"- **Depends on:** {_codes(sorted(boundary.depends_on))}")
        lines.append(f"- **Publishes:** {_codes(sorted(boundary.publishes))}")
        lines.append(f"- **Subscribes to:** {_codes(sorted(boundary.subscribes_to))}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def event_catalogue() -> str:
    """A summary table (event, publisher, subscribers), then each event's fields."""
    lines = [
        "Generated from the events modules and the handlers' subscriptions by `python manage.py events`;",
        "refresh with `python manage.py events --write-readme`.",
        "",
    ]
    etypes = registry.event_types()
    if not etypes:
        return "\n".join([*lines, "_No event types are registered yet._"]) + "\n"
    subscribers = {e.type_name: sorted(s.name for s in registry.subscribers(e.type_name)) for e in etypes}
    lines += ["| event | published by | subscribers |", "|---|---|---|"]
    for etype in etypes:
        lines.append(f"| `{etype.type_name}` | {etype.source} | {_codes(subscribers[etype.type_name])} |")
    for etype in etypes:
        lines += ["", f"### `{etype.type_name}`", ""]
        cls = etype.cls
        lines.append(f"Published by **{etype.source}** as `{cls.__module__}.{cls.__qualname__}`.")
        lines.append("")
        lines += _fields_table(cls)
        lines.append("")
        lines.append(f"Subscribers: {_codes(subscribers[etype.type_name])}")
    values = _value_types(e.cls for e in etypes)
    if values:
        lines += ["", "### Value types", "", "Plain dataclasses carried inside the events above."]
    for cls in values:
        lines += ["", f"#### `{cls.__qualname__}`", "", f"`{cls.__module__}.{cls.__qualname__}`", ""]
        lines += _fields_table(cls)
    return "\n".join(lines) + "\n"


# --- README copies -----------------------------------------------------------------------------------


def readme_path() -> Path:
    return Path(settings.BASE_DIR) / "README.md"


def _markers(name: str) -> re.Pattern:
    return re.compile(
        rf"(?P<begin><!-- {re.escape(name)}:begin -->\n)(?P<body>.*?)(?P<end><!-- {re.escape(name)}:end -->)",
        re.DOTALL,
    )


def embedded(text: str, name: str) -> str | None:
    """The text between `<!-- name:begin -->` and `<!-- name:end -->`, or None without the markers."""
    match = _markers(name).search(text)
    return None if match is None else match["body"]


def embed(text: str, name: str, body: str) -> str:
    """`text` with the part between the `name` markers replaced by `body`; the rest untouched."""
    pattern = _markers(name)
    if pattern.search(text) is None:
        raise ValueError(f"README.md has no '<!-- {name}:begin -->' ... '<!-- {name}:end -->' markers")
    # A function replacement, so backslashes in the body are not read as group references.
    return pattern.sub(lambda m: m["begin"] + body + m["end"], text, count=1)


class GeneratedDocCommand(BaseCommand):
    """A command that prints one generated document and can refresh its copy in README.md."""

    marker: str  # the README markers' name
    refresh_hint: str

    def render(self) -> str:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument(
            "--write-readme",
            action="store_true",
            help=f"replace the copy between the '{self.marker}' markers in README.md instead of printing",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="exit non-zero when the README.md copy differs from the code",
        )

    def handle(self, *args, **options):
        body = self.render()
        path = readme_path()
        if options["check"]:
            if embedded(path.read_text(encoding="utf-8"), self.marker) != body:
                raise CommandError(f"README.md's {self.marker} section is stale: {self.refresh_hint}")
            return
        if options["write_readme"]:
            text = path.read_text(encoding="utf-8")
            try:
                updated = embed(text, self.marker, body)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            if updated != text:
                path.write_text(updated, encoding="utf-8")
            state = "updated" if updated != text else "already up to date"
            self.stdout.write(f"README.md: the {self.marker} section is {state}")
            return
        self.stdout.write(body, ending="")
