"""The base AppConfig of a bounded context: its declared boundary, and the one place it is wired.

A context declares, next to its code, what the seed's ServiceBoundaries declared: its
responsibilities, the contexts it depends on (imports from or subscribes to) and — derived from its
models, so it cannot drift — the tables it owns. ready() registers its events and its subscriptions
and loads its api (registering its service interface) and tasks, idempotently.
"""

import importlib
from dataclasses import dataclass

from django.apps import AppConfig, apps

from integration import services
from integration.bus import registry


@dataclass(frozen=True)
class Boundary:
    name: str
    responsibilities: tuple[str, ...]
    owns_tables: tuple[str, ...]
    depends_on: tuple[str, ...]
    publishes: tuple[str, ...]
    subscribes_to: tuple[str, ...]


class ContextConfig(AppConfig):
    """Subclass per context; set name, label, responsibilities and depends_on."""

    default_auto_field = "django.db.models.BigAutoField"
    responsibilities: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()

    def ready(self) -> None:
        # The service interface: importing api registers its operations; its errors become decodable.
        api = self._optional_module("api")
        if api is not None:
            services.register_errors_from(api)
        events = self._optional_module("events")
        if events is not None:
            registry.register_events_from(events)
        handlers = self._optional_module("handlers")
        if handlers is not None:
            # No SUBSCRIPTIONS map, a key that is not an event class, a handler that is not a named
            # function, or a name another handler already holds: a RegistryError here, at start-up.
            registry.subscribe_module(context=self.label, module=handlers)
        # Import the context's tasks so workers know them (autodiscovery also does; this is for tests
        # and management commands that never start a worker).
        self._optional_module("tasks")

    def seed_demo(self, out) -> None:
        """Create this context's demo data (idempotent), if it has a `demo` module with `seed(out)`."""
        demo = self._optional_module("demo")
        if demo is not None:
            demo.seed(out)

    def _optional_module(self, name: str):
        module_name = f"{self.name}.{name}"
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise

    def boundary(self) -> Boundary:
        published = tuple(e.type_name for e in registry.event_types() if e.source == self.label)
        subscribed = tuple(
            sorted({s.event_type for s in registry.all_subscriptions() if s.context == self.label})
        )
        return Boundary(
            name=self.label,
            responsibilities=tuple(self.responsibilities),
            owns_tables=tuple(sorted(m._meta.db_table for m in self.get_models(include_auto_created=True))),
            depends_on=tuple(self.depends_on),
            publishes=published,
            subscribes_to=subscribed,
        )


def context_configs() -> list[ContextConfig]:
    """Every installed bounded context, in settings order."""
    return [c for c in apps.get_app_configs() if isinstance(c, ContextConfig)]
