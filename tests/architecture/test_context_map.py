"""The context map and event catalogue: rendered from the code, and the README's copies kept current."""

import dataclasses
import datetime as dt
import difflib
import uuid
from decimal import Decimal
from io import StringIO
from typing import ClassVar

import pytest
from django.core.management import CommandError, call_command

from integration import docs
from integration.bus import registry
from integration.bus.registry import EventType, Subscription
from integration.contexts import context_configs

COPIES = [
    ("contexts", docs.context_map, "python manage.py contexts --write-readme"),
    ("events", docs.event_catalogue, "python manage.py events --write-readme"),
]


@pytest.mark.parametrize(("marker", "render", "refresh"), COPIES, ids=[c[0] for c in COPIES])
def test_the_readme_copy_is_current(marker, render, refresh):
    readme = docs.readme_path().read_text(encoding="utf-8")
    copy = docs.embedded(readme, marker)
    assert copy is not None, f"README.md lacks the <!-- {marker}:begin --> ... <!-- {marker}:end --> markers"
    current = render()
    diff = "".join(difflib.unified_diff(copy.splitlines(True), current.splitlines(True), "README.md", "code"))
    # pytest.fail rather than assert: one readable diff instead of pytest's comparison of two long strings.
    if copy != current:
        pytest.fail(f"README.md's {marker} section is stale: run `{refresh}` (or `make docs`).\n{diff}")


@pytest.mark.parametrize(("marker", "render", "refresh"), COPIES, ids=[c[0] for c in COPIES])
def test_the_command_prints_the_rendering_and_the_same_each_time(marker, render, refresh):
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command(marker, stdout=out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1] == render()


def test_the_context_map_lists_every_context_in_settings_order_with_its_boundary():
    text = docs.context_map()
    headings = [line.removeprefix("#### ") for line in text.splitlines() if line.startswith("#### ")]
    assert headings == [c.label for c in context_configs()]
    users = text.split("#### users")[1].split("####")[0]
    assert "`users_user`" in users
    for label in ("Responsibilities", "Owns tables", "Depends on", "Publishes", "Subscribes to"):
        assert f"- **{label}:**" in users


# --- rendering of a fabricated registry --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Line:
    sku: str
    quantity: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrderPlaced:
    EVENT_TYPE: ClassVar[str] = "orders.OrderPlaced.v1"
    order_id: uuid.UUID
    total: Decimal
    lines: tuple[Line, ...]
    note: str | None = None
    placed_at: dt.datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pinged:
    EVENT_TYPE: ClassVar[str] = "catalog.Pinged.v1"


def _handler(name):
    def handler(event, envelope): ...

    handler.__name__ = name
    return handler


@pytest.fixture
def fabricated_registry(monkeypatch):
    """Two events and three subscribers, in place of the real registry, without touching it."""
    etypes = [
        EventType(cls=Pinged, type_name=Pinged.EVENT_TYPE, source="catalog", name="Pinged", version=1),
        EventType(
            cls=OrderPlaced, type_name=OrderPlaced.EVENT_TYPE, source="orders", name="OrderPlaced", version=1
        ),
    ]
    subs = {
        OrderPlaced.EVENT_TYPE: [
            Subscription(
                name=f"{c}.on_order_placed", context=c, event_type=OrderPlaced.EVENT_TYPE, handler=_handler(c)
            )
            for c in ("payments", "notifications", "catalog")  # registration order, not sorted
        ]
    }
    monkeypatch.setattr(registry, "event_types", lambda: sorted(etypes, key=lambda e: e.type_name))
    monkeypatch.setattr(registry, "subscribers", lambda type_name: list(subs.get(type_name, ())))


def test_the_event_catalogue_shows_publisher_fields_and_sorted_subscribers(fabricated_registry):
    text = docs.event_catalogue()
    subscribers = "`catalog.on_order_placed`, `notifications.on_order_placed`, `payments.on_order_placed`"
    assert f"| `orders.OrderPlaced.v1` | orders | {subscribers} |" in text
    assert "| `catalog.Pinged.v1` | catalog | — |" in text
    assert text.index("`catalog.Pinged.v1`") < text.index("`orders.OrderPlaced.v1`")
    section = text.split("### `orders.OrderPlaced.v1`")[1].split("###")[0]
    assert "Published by **orders**" in section
    for row in (
        "| `order_id` | `UUID` |",
        "| `total` | `Decimal` |",
        "| `lines` | `tuple[Line, ...]` |",
        "| `note` | `str \\| None` |",  # escaped, or the table would split the cell
        "| `placed_at` | `datetime` |",
    ):
        assert row in section
    assert f"Subscribers: {subscribers}" in section
    assert "No fields." in text.split("### `catalog.Pinged.v1`")[1].split("###")[0]
    # The value type carried inside OrderPlaced is documented once, with its fields.
    values = text.split("### Value types")[1]
    assert "#### `Line`" in values and "| `quantity` | `int` |" in values


def test_an_empty_registry_renders_a_note(monkeypatch):
    monkeypatch.setattr(registry, "event_types", list)
    assert "_No event types are registered yet._" in docs.event_catalogue()


# --- the README markers ------------------------------------------------------------------------------

README = """# Shop

## Architecture

Prose before.

<!-- contexts:begin -->
old map
<!-- contexts:end -->

Prose after.
"""


def test_embed_replaces_only_the_text_between_the_markers():
    updated = docs.embed(README, "contexts", "new map with \\1 and \\g<0>\n")
    assert updated == README.replace("old map\n", "new map with \\1 and \\g<0>\n")
    assert docs.embedded(updated, "contexts") == "new map with \\1 and \\g<0>\n"
    assert docs.embedded(updated, "events") is None


def test_embed_without_markers_says_which_are_missing():
    with pytest.raises(ValueError, match="events:begin"):
        docs.embed(README, "events", "x\n")


@pytest.fixture
def tmp_readme(tmp_path, monkeypatch):
    path = tmp_path / "README.md"
    path.write_text(README)
    monkeypatch.setattr(docs, "readme_path", lambda: path)
    return path


def test_write_readme_refreshes_the_copy_and_check_then_passes(tmp_readme):
    with pytest.raises(CommandError, match="contexts --write-readme"):
        call_command("contexts", "--check")
    call_command("contexts", "--write-readme", stdout=StringIO())
    text = tmp_readme.read_text()
    assert docs.embedded(text, "contexts") == docs.context_map()
    assert text.startswith("# Shop\n\n## Architecture\n\nProse before.\n") and text.endswith(
        "\nProse after.\n"
    )
    call_command("contexts", "--check")


def test_write_readme_without_markers_is_an_error(tmp_readme):
    with pytest.raises(CommandError, match="events:begin"):
        call_command("events", "--write-readme", stdout=StringIO())
