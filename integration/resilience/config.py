"""Each dependency's policy (timeouts, retries, breaker), read from settings.RESILIENCE.

    RESILIENCE = {
        "DEFAULTS": {"base_url": "", "connect_timeout": 2.0, "read_timeout": 5.0, "max_attempts": 3,
                     "backoff_base": 0.2, "backoff_max": 2.0, "retry_after_cap": 5.0,
                     "breaker": {"fail_max": 5, "failure_rate": 0.5, "window": 10.0, "min_calls": 10,
                                 "reset_timeout": 30.0}},
        "DEPENDENCIES": {"payments-provider": {"base_url": "https://...", "read_timeout": 10.0}},
    }

A dependency's entry is merged over DEFAULTS (its "breaker" key by key); a dependency with no entry
gets DEFAULTS. Times are seconds. A misspelt key or an out-of-range value is ImproperlyConfigured,
naming the setting, rather than a silently ignored knob.
"""

import re
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Names appear in Redis keys and log lines: keep them plain.
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class BreakerPolicy:
    """When the circuit opens, and for how long.

    fail_max: consecutive failed calls that open it. failure_rate (0 < rate <= 1): it also opens when at
    least this share of the calls in the last `window` seconds failed, once there were `min_calls` of
    them. reset_timeout: seconds it stays open before one trial call is let through.
    """

    fail_max: int
    failure_rate: float
    window: float
    min_calls: int
    reset_timeout: float


@dataclass(frozen=True, kw_only=True)
class DependencyPolicy:
    """How one dependency is called.

    connect_timeout / read_timeout: seconds to open a connection / between two reads (and writes) of
    one attempt. max_attempts: attempts per call, the first included. backoff_base / backoff_max: the
    exponential backoff between attempts (integration.backoff). retry_after_cap: the longest
    Retry-After the client waits for; a longer one ends the call at once, carrying the value.
    """

    name: str
    base_url: str
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    backoff_base: float
    backoff_max: float
    retry_after_cap: float
    breaker: BreakerPolicy

    @property
    def trial_lease(self) -> float:
        """Seconds a half-open breaker waits for its trial call before another caller may try.

        One attempt's worst case (connect, then read) plus a margin: a process that dies mid-trial must
        not leave the breaker half-open for good.
        """
        return self.connect_timeout + self.read_timeout + 1.0


_POSITIVE_FLOATS = ("connect_timeout", "read_timeout", "backoff_base", "backoff_max", "retry_after_cap")
_BREAKER_FLOATS = ("window", "reset_timeout")


def dependency_names() -> list[str]:
    """The dependencies named in settings.RESILIENCE["DEPENDENCIES"], sorted."""
    return sorted(_setting().get("DEPENDENCIES", {}))


def policy(name: str) -> DependencyPolicy:
    """The policy for dependency `name`: its settings entry over DEFAULTS. ImproperlyConfigured if a key
    is unknown or a value out of range, or the name is not a plain lower-case identifier."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ImproperlyConfigured(f"{name!r} is not a dependency name (lower-case letters, digits, . _ -)")
    conf = _setting()
    defaults = conf.get("DEFAULTS", {})
    own = conf.get("DEPENDENCIES", {}).get(name, {})
    values = {**defaults, **own}
    values["breaker"] = {**defaults.get("breaker", {}), **own.get("breaker", {})}
    where = f"RESILIENCE for {name!r}"
    _check_keys(values, {f.name for f in fields(DependencyPolicy)} - {"name"}, where)
    _check_keys(values["breaker"], {f.name for f in fields(BreakerPolicy)}, f"{where}, 'breaker'")

    breaker = values.pop("breaker")
    for key in _POSITIVE_FLOATS:
        values[key] = _number(values[key], f"{where}: {key}", positive=True)
    for key in _BREAKER_FLOATS:
        breaker[key] = _number(breaker[key], f"{where}: breaker {key}", positive=True)
    values["max_attempts"] = _integer(values["max_attempts"], f"{where}: max_attempts")
    breaker["fail_max"] = _integer(breaker["fail_max"], f"{where}: breaker fail_max")
    breaker["min_calls"] = _integer(breaker["min_calls"], f"{where}: breaker min_calls")
    rate = _number(breaker["failure_rate"], f"{where}: breaker failure_rate", positive=True)
    if rate > 1:
        raise ImproperlyConfigured(f"{where}: breaker failure_rate is a share of calls, at most 1")
    breaker["failure_rate"] = rate
    if not isinstance(values["base_url"], str):
        raise ImproperlyConfigured(f"{where}: base_url must be a string")
    return DependencyPolicy(name=name, breaker=BreakerPolicy(**breaker), **values)


def _setting() -> dict[str, Any]:
    return getattr(settings, "RESILIENCE", {}) or {}


def _check_keys(values: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    missing = sorted(known - set(values))
    if missing:
        raise ImproperlyConfigured(f"{where}: missing key(s) {missing} (set them in DEFAULTS)")


def _number(value: Any, where: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImproperlyConfigured(f"{where} must be a number, not {value!r}")
    if positive and not value > 0:
        raise ImproperlyConfigured(f"{where} must be greater than 0, not {value!r}")
    return float(value)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImproperlyConfigured(f"{where} must be a whole number of at least 1, not {value!r}")
    return value
