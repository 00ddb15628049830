"""Checks a context's declared depends_on against what its code really imports and subscribes to.

Pure functions over a grimp import graph and the bus subscriptions, so the tests can run them against
the real project and against fabricated violations alike.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping

from integration.bus.registry import Subscription, parse_type_name

# {context: {other context: [evidence, ...]}}
Uses = dict[str, dict[str, list[str]]]


def imported_contexts(graph, packages: Mapping[str, str]) -> Uses:
    """For each context (label -> package), the other contexts its modules import directly."""
    owner_of = {package: label for label, package in packages.items()}
    uses: Uses = {label: defaultdict(list) for label in packages}
    for label, package in packages.items():
        if package not in graph.modules:
            continue
        for importer in sorted({package} | graph.find_descendants(package)):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                # contexts.catalog.api -> contexts.catalog; the root package itself belongs to nobody.
                other = next(
                    (owner_of[p] for p in owner_of if imported == p or imported.startswith(p + ".")), None
                )
                if other is not None and other != label:
                    uses[label][other].append(f"{importer} -> {imported}")
    return {label: dict(others) for label, others in uses.items()}


def subscribed_contexts(subscriptions: Iterable[Subscription], labels: Iterable[str]) -> Uses:
    """For each context, the contexts whose events it subscribes to (its own events do not count)."""
    uses: Uses = {label: defaultdict(list) for label in labels}
    for sub in subscriptions:
        if sub.context not in uses:
            continue  # a test app's throwaway handlers, not a context's
        source, _, _ = parse_type_name(sub.event_type)
        if source != sub.context:
            uses[sub.context][source].append(f"{sub.name} <- {sub.event_type}")
    return {label: dict(others) for label, others in uses.items()}


def boundary_violations(
    *, declared: Mapping[str, Iterable[str]], imports: Uses, subscriptions: Uses
) -> list[str]:
    """Every mismatch between declared depends_on and the real dependencies, as readable sentences."""
    problems = []
    for label in sorted(declared):
        deps = set(declared[label])
        for kind, uses in (("imports from", imports), ("subscribes to", subscriptions)):
            for other, evidence in sorted(uses.get(label, {}).items()):
                if other not in deps:
                    problems.append(
                        f"{label} {kind} {other} without declaring it in depends_on: {', '.join(evidence)}"
                    )
        for dep in sorted(deps):
            if dep == label:
                problems.append(f"{label} declares itself in depends_on")
            elif dep not in declared:
                problems.append(f"{label} declares {dep!r} in depends_on, which is no installed context")
            elif dep not in imports.get(label, {}) and dep not in subscriptions.get(label, {}):
                problems.append(
                    f"{label} declares {dep} in depends_on but neither imports from nor subscribes to it"
                )
    return problems
