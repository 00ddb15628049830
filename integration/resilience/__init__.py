"""Outbound HTTP to providers and extracted contexts: timeouts, keyed retries, a fleet-wide breaker.

    from integration import resilience

    response = resilience.client("carrier").post("/shipments", json=..., idempotency_key=key)

Settings: settings.RESILIENCE (integration.resilience.config). The stub provider that tests and
developers run against is integration.resilience.stub (not imported here: it needs no Django).
"""

from integration.resilience.breaker import BreakerState
from integration.resilience.client import (
    ResilientClient,
    breaker,
    breaker_states,
    client,
    forget_all,
    parse_retry_after,
)
from integration.resilience.errors import DependencyUnavailable

__all__ = [
    "BreakerState",
    "DependencyUnavailable",
    "ResilientClient",
    "breaker",
    "breaker_states",
    "client",
    "forget_all",
    "parse_retry_after",
]
