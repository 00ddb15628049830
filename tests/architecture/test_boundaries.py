"""Each context's declared depends_on matches the contexts it really imports from and subscribes to."""

import grimp
import pytest

from integration.bus import registry
from integration.bus.registry import Subscription
from integration.contexts import context_configs
from tests.architecture.boundaries import boundary_violations, imported_contexts, subscribed_contexts


def _packages() -> dict[str, str]:
    return {config.label: config.name for config in context_configs()}


def test_every_context_declares_exactly_the_contexts_it_depends_on():
    packages = _packages()
    # No cache: a stale cache could hide an import added a moment ago; the build takes well under 1 s.
    graph = grimp.build_graph("contexts", cache_dir=None)
    problems = boundary_violations(
        declared={config.label: config.depends_on for config in context_configs()},
        imports=imported_contexts(graph, packages),
        subscriptions=subscribed_contexts(registry.all_subscriptions(), packages),
    )
    assert not problems, "depends_on in contexts/<name>/apps.py disagrees with the code:\n" + "\n".join(
        problems
    )


# --- the check itself catches violations -------------------------------------------------------------

PACKAGES = {"catalog": "contexts.catalog", "orders": "contexts.orders", "payments": "contexts.payments"}


def _graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for module in ("contexts", *PACKAGES.values(), "contexts.catalog.api", "contexts.catalog.events"):
        graph.add_module(module)
    for importer, imported in imports:
        graph.add_module(importer)
        graph.add_import(importer=importer, imported=imported)
    return graph


def _subscription(context: str, event_type: str) -> Subscription:
    return Subscription(name=f"{context}.on_it", context=context, event_type=event_type, handler=print)


def _violations(*, declared, imports=(), subscriptions=()):
    return boundary_violations(
        declared={label: declared.get(label, ()) for label in PACKAGES},
        imports=imported_contexts(_graph(*imports), PACKAGES),
        subscriptions=subscribed_contexts(subscriptions, PACKAGES),
    )


def test_an_undeclared_import_is_reported_with_the_offending_module():
    problems = _violations(declared={}, imports=[("contexts.orders.services", "contexts.catalog.api")])
    assert problems == [
        "orders imports from catalog without declaring it in depends_on: "
        "contexts.orders.services -> contexts.catalog.api"
    ]


def test_a_declared_import_passes():
    assert (
        _violations(
            declared={"orders": ("catalog",)}, imports=[("contexts.orders.services", "contexts.catalog.api")]
        )
        == []
    )


def test_an_import_of_a_context_package_itself_counts():
    problems = _violations(declared={}, imports=[("contexts.payments.handlers", "contexts.orders")])
    assert [p.split(":")[0] for p in problems] == [
        "payments imports from orders without declaring it in depends_on"
    ]


def test_imports_within_a_context_and_of_the_root_package_are_not_dependencies():
    assert (
        _violations(
            declared={},
            imports=[
                ("contexts.orders.services", "contexts.orders.models"),
                ("contexts.orders.api", "contexts"),
            ],
        )
        == []
    )


def test_an_undeclared_subscription_is_reported_with_the_handler():
    problems = _violations(declared={}, subscriptions=[_subscription("payments", "orders.OrderPlaced.v1")])
    assert problems == [
        "payments subscribes to orders without declaring it in depends_on: "
        "payments.on_it <- orders.OrderPlaced.v1"
    ]


def test_a_subscription_to_its_own_events_is_no_dependency():
    assert _violations(declared={}, subscriptions=[_subscription("orders", "orders.OrderPlaced.v1")]) == []


def test_a_declared_dependency_that_is_neither_imported_nor_subscribed_is_reported():
    assert _violations(declared={"orders": ("payments",)}) == [
        "orders declares payments in depends_on but neither imports from nor subscribes to it"
    ]


@pytest.mark.parametrize(
    ("dependency", "problem"),
    [
        ("orders", "orders declares itself in depends_on"),
        ("billing", "orders declares 'billing' in depends_on, which is no installed context"),
    ],
)
def test_a_dependency_on_itself_or_an_unknown_context_is_reported(dependency, problem):
    assert _violations(declared={"orders": (dependency,)}) == [problem]
