"""Which bounded contexts this deployment holds (CONTEXTS_LOCAL), and everything that follows from it.

A context is *local* to a deployment when its tables are in the deployment's database: its api is
served here, and its tasks, periodic tasks and event handlers run here. Every other context is reached
through its api over HTTP (CONTEXTS_REMOTE) or, having no api, only by events. Apps that are not bounded
contexts (Django's own, integration, the tests' throwaway apps) are everywhere.

settings.py derives Celery's queues, routes and beat schedule with the functions below, which take and
return plain values (settings are read once per process, so these functions are what tests exercise);
at run time `is_local` answers the database router, the admin, the event consumer and /internal/.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

# The integration queue of a deployment that holds every context. A deployment that holds only some
# has its own (integration_queue), so its outbox sweep and purges run against its own database.
INTEGRATION = "integration"


def problems(*, contexts: Sequence[str], local: Sequence[str], remote: Iterable[str]) -> list[str]:
    """What is wrong with placing `local` here and `remote` elsewhere, as sentences; [] if nothing."""
    found = [
        f"CONTEXTS_LOCAL names {name!r}, which is not a context (the contexts: {', '.join(contexts)})"
        for name in sorted(set(local) - set(contexts))
    ]
    found += [
        f"{name!r} is both local (CONTEXTS_LOCAL) and remote (CONTEXTS_REMOTE)"
        for name in sorted(set(local) & set(remote))
    ]
    if not local:
        found.append("CONTEXTS_LOCAL names no context: a deployment holds at least one")
    return found


def base_url_problem(context: str, url: Any) -> str | None:
    """What is wrong with `url` as the base URL of `context` in CONTEXTS_REMOTE, as a sentence; None
    if nothing. A base is http(s) with a host, and may have a path (a gateway's prefix) but no query
    or fragment: calls go to <base>/internal/<context>/<function>/."""
    parts = urlsplit(url) if isinstance(url, str) else None
    try:
        valid = (
            parts is not None
            and parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and not (parts.query or parts.fragment)
            and (parts.port is None or parts.port > 0)
        )
    except ValueError:  # a port that is no number, or out of range
        valid = False
    if valid:
        return None
    return f"CONTEXTS_REMOTE[{context!r}] is {url!r}, not an http(s) base URL such as http://{context}:8000"


def remote_contexts(contexts: Sequence[str], *, configured: str) -> dict[str, str]:
    """CONTEXTS_REMOTE from its JSON text: {context: base URL}. ImproperlyConfigured, naming each
    problem, for text that is not a JSON object, a name that is no context or a URL that is no http(s)
    base: a process started with one would fail only at its first call to that context."""
    try:
        remote = json.loads(configured)
    except ValueError as exc:
        raise ImproperlyConfigured(f"CONTEXTS_REMOTE is not JSON ({exc}): {configured!r}") from None
    if not isinstance(remote, dict):
        raise ImproperlyConfigured(
            f'CONTEXTS_REMOTE is a JSON object such as {{"payments": "http://payments:8000"}}, not {remote!r}'
        )
    found = [
        f"CONTEXTS_REMOTE names {name!r}, which is not a context (the contexts: {', '.join(contexts)})"
        for name in sorted(set(remote) - set(contexts))
    ]
    found += [problem for name, url in sorted(remote.items()) if (problem := base_url_problem(name, url))]
    if found:
        raise ImproperlyConfigured("; ".join(found))
    return remote


def local_contexts(
    contexts: Sequence[str], *, configured: Sequence[str] | None, remote: Iterable[str]
) -> list[str]:
    """CONTEXTS_LOCAL in `contexts`' order: the contexts configured, or (None) every one not remote.

    A name that is no context, or one also remote, is ImproperlyConfigured: the queues, routes and
    schedule derived from a wrong placement would quietly run a context's work against the wrong
    database."""
    remote = set(remote)
    if configured is None:
        return [name for name in contexts if name not in remote]
    configured = [name.strip() for name in configured if name.strip()]
    found = problems(contexts=contexts, local=configured, remote=remote)
    if found:
        raise ImproperlyConfigured("; ".join(found))
    return [name for name in contexts if name in configured]


def integration_queue(contexts: Sequence[str], local: Sequence[str]) -> str:
    """The queue of this deployment's own integration tasks (outbox sweep, purges): `integration`
    when it holds every context, else one named by the contexts it holds, such as
    `integration.payments+notifications`, which no other deployment consumes."""
    if set(contexts) <= set(local):
        return INTEGRATION
    return f"{INTEGRATION}.{'+'.join(name for name in contexts if name in local)}"


def _queue(name: str) -> Queue:
    return Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)


def task_queues(contexts: Sequence[str], local: Sequence[str]) -> list[Queue]:
    """The queues this deployment's workers consume (a worker started without -Q takes them all):
    its integration queue and its local contexts' queues."""
    return [_queue(integration_queue(contexts, local)), *(_queue(name) for name in local)]


def task_routes(contexts: Sequence[str], local: Sequence[str]) -> dict[str, dict[str, str]]:
    """Task names are `<context>.<verb_noun>`: a context's tasks go to its context's queue wherever
    they are sent from, integration's to this deployment's integration queue."""
    routes = {f"{name}.*": {"queue": name, "routing_key": name} for name in contexts}
    own = integration_queue(contexts, local)
    return {f"{INTEGRATION}.*": {"queue": own, "routing_key": own}, **routes}


def beat_schedule(schedule: Mapping[str, dict], local: Sequence[str]) -> dict[str, dict]:
    """The entries of a deployment's beat: its local contexts' periodic tasks and integration's (each
    deployment runs its own beat, so each database is swept and purged by its own deployment)."""
    keep = {INTEGRATION, *local}
    return {name: entry for name, entry in schedule.items() if entry["task"].split(".", 1)[0] in keep}


# --- At run time -------------------------------------------------------------------------------------


def is_local(name: str) -> bool:
    """False only for a bounded context (settings.CONTEXTS) this deployment does not hold
    (CONTEXTS_LOCAL); both read on every call, so tests may override them. An app that is no context
    is everywhere."""
    return name in settings.CONTEXTS_LOCAL or name not in settings.CONTEXTS
