"""The HTTP client for every outbound call: per-dependency timeouts, keyed retries, a shared breaker.

    from integration import resilience

    provider = resilience.client("payments-provider")
    response = provider.post("/v1/authorizations", json={...}, idempotency_key=f"{saga_id}:authorize")
    response = provider.get("/v1/authorizations", params={"key": f"{saga_id}:authorize"})

A call returns the httpx.Response of any answer below 500 other than 429: 2xx, 3xx (redirects are
not followed) and 4xx are the caller's business. Everything else ends in DependencyUnavailable, a
TransientError, once the retries allowed are spent:

- Retried: connection errors, timeouts, dropped connections, 429, 502, 503 and 504, and only when
  repeating the request cannot act twice: an idempotent method (GET, HEAD, OPTIONS, PUT, DELETE;
  RFC 9110 §9.2.2) or a call with an `idempotency_key` (sent as `Idempotency-Key`, which the
  provider uses to answer a repeat with the first result; draft-ietf-httpapi-idempotency-key-header),
  or when the caller says so with `repeatable=True` (a read sent as POST, a command whose key travels
  in its body: integration.services.remote); `repeatable=False` sends the call once whatever it is.
- Between attempts: exponential backoff with equal jitter, or the answer's Retry-After (seconds or an
  HTTP-date, RFC 9110 §10.2.3) if longer; a Retry-After beyond the dependency's `retry_after_cap`
  ends the call at once with `retry_after` set, for the caller (a saga step) to schedule the retry.
- Every attempt goes through the dependency's circuit breaker (integration.resilience.breaker):
  connection errors, timeouts and 5xx answers count as failures; while it is open attempts fail fast
  with reason "breaker-open" and nothing is sent.

One client per dependency per process (`client(name)`), so connections are pooled and reused; a
forked child starts with none of its parent's.
"""

import email.utils
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx
import pybreaker
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from integration import correlation
from integration.backoff import equal_jitter
from integration.logging import get_logger
from integration.resilience.breaker import BreakerState, SharedBreaker, storage_for
from integration.resilience.config import DependencyPolicy, dependency_names, policy
from integration.resilience.errors import DependencyUnavailable

log = get_logger("integration.resilience")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

Params = Mapping[str, str | int | float | bool | None]


class _Failed(Exception):
    """Raised inside the breaker by an attempt that counts against the dependency."""

    def __init__(self, *, reason: str, response: httpx.Response | None = None):
        super().__init__(reason)
        self.reason = reason
        self.response = response


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError):
        return "connect"  # nothing was sent (PoolTimeout: no free connection in this process's pool)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    return "dropped"


_DEPENDENCY_FAILURES = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a Retry-After header value asks for: delay-seconds ("120") or an HTTP-date
    ("Wed, 21 Oct 2015 07:28:00 GMT"), RFC 9110 §10.2.3. A date in the past is 0; anything unparsable
    is None (ignored). Absurdly long values are clamped to a day."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value[:12]), 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 §5.6.7: an HTTP-date is always UTC
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return min(max(0.0, when.timestamp() - now), 86400.0)


class ResilientClient:
    """Calls one dependency. Thread-safe; get it with `client(name)` rather than building one."""

    def __init__(
        self,
        *,
        policy: DependencyPolicy,
        breaker: SharedBreaker,
        transport: httpx.BaseTransport | None = None,
    ):
        self.policy = policy
        self.breaker = breaker
        self._http = httpx.Client(
            base_url=policy.base_url,
            timeout=httpx.Timeout(
                policy.read_timeout, connect=policy.connect_timeout, pool=policy.connect_timeout
            ),
            follow_redirects=False,
            transport=transport,
        )

    @property
    def name(self) -> str:
        return self.policy.name

    def get(
        self, path: str, /, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return self.request("GET", path, params=params, headers=headers)

    def post(
        self,
        path: str,
        /,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        repeatable: bool | None = None,
    ) -> httpx.Response:
        return self.request(
            "POST",
            path,
            json=json,
            content=content,
            headers=headers,
            idempotency_key=idempotency_key,
            repeatable=repeatable,
        )

    def put(
        self, path: str, /, *, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return self.request("PUT", path, json=json, headers=headers)

    def delete(self, path: str, /, *, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return self.request("DELETE", path, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        /,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        repeatable: bool | None = None,
    ) -> httpx.Response:
        """Send `method path` (relative to the dependency's base_url, or an absolute URL) under the
        retry and breaker rules in the module docstring. Returns the answer (status < 500, not 429); raises
        DependencyUnavailable. ValueError for an idempotency key that is empty, longer than 255
        characters or not printable ASCII (a programming error: keys are built by code)."""
        method = method.upper()
        headers = dict(headers or {})
        if idempotency_key is not None:
            if not (0 < len(idempotency_key) <= MAX_KEY_LENGTH and idempotency_key.isprintable()):
                raise ValueError("an idempotency key is 1 to 255 printable characters")
            if not idempotency_key.isascii():
                raise ValueError("an idempotency key is ASCII")
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        if (request_id := correlation.get()) and "X-Request-ID" not in headers:
            headers["X-Request-ID"] = request_id
        request = self._http.build_request(
            method, path, params=params, json=json, content=content, headers=headers
        )
        if request.url.scheme not in ("http", "https"):
            raise ImproperlyConfigured(
                f"{request.url} is not an http(s) URL: set base_url for {self.name!r} in RESILIENCE"
            )
        if repeatable is None:
            repeatable = method in IDEMPOTENT_METHODS or idempotency_key is not None

        attempt = 0
        while True:
            attempt += 1
            response = cause = None
            try:
                response = self.breaker.call(self._attempt, request)
            except pybreaker.CircuitBreakerError:
                raise self._unavailable(
                    reason="breaker-open", attempts=attempt - 1, retry_after=self.breaker.retry_in()
                ) from None
            except _Failed as failure:
                reason, response, cause = failure.reason, failure.response, failure.__cause__
            else:
                if response.status_code != 429:
                    return response
                reason = "status"

            status = response.status_code if response is not None else None
            retry_after = (
                parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
            )
            if self.breaker.refusing:
                # This failure opened it: a backoff would only be waited out to be refused.
                retry_after = max(retry_after or 0.0, self.breaker.retry_in() or 0.0)
            if (
                not repeatable
                or (reason == "status" and status not in RETRY_STATUSES)
                or attempt >= self.policy.max_attempts
                or self.breaker.refusing
                or (retry_after or 0.0) > self.policy.retry_after_cap
            ):
                raise self._unavailable(
                    reason=reason, status=status, attempts=attempt, retry_after=retry_after
                ) from cause
            delay = equal_jitter(attempt=attempt, base=self.policy.backoff_base, cap=self.policy.backoff_max)
            delay = max(delay, retry_after or 0.0)
            log.info(
                "http.retrying",
                dependency=self.name,
                method=method,
                path=request.url.path,
                attempt=attempt,
                reason=reason,
                status=status,
                delay=round(delay, 3),
            )
            time.sleep(delay)

    def close(self) -> None:
        self._http.close()

    def _attempt(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._http.send(request)
        except _DEPENDENCY_FAILURES as exc:
            raise _Failed(reason=_reason(exc)) from exc
        if response.status_code >= 500:
            raise _Failed(reason="status", response=response)
        return response

    def _unavailable(
        self, *, reason: str, attempts: int, status: int | None = None, retry_after: float | None = None
    ) -> DependencyUnavailable:
        detail = f"{self.name}: {reason}" + (f" {status}" if status else "") + f" after {attempts} attempt(s)"
        log.warning(
            "http.dependency_unavailable",
            dependency=self.name,
            reason=reason,
            status=status,
            attempts=attempts,
            retry_after=retry_after,
        )
        return DependencyUnavailable(
            detail,
            dependency=self.name,
            reason=reason,
            upstream_status=status,
            attempts=attempts,
            retry_after=retry_after,
        )


# --- one client and one breaker per dependency per process ---------------------------------------------

_lock = threading.RLock()  # client() creates the breaker under it
_clients: dict[str, ResilientClient] = {}
_breakers: dict[str, SharedBreaker] = {}


def client(name: str) -> ResilientClient:
    """The process's client for dependency `name` (configured in settings.RESILIENCE, else DEFAULTS)."""
    found = _clients.get(name)
    if found is None:
        with _lock:
            found = _clients.get(name)
            if found is None:
                found = _clients[name] = ResilientClient(policy=policy(name), breaker=breaker(name))
    return found


def breaker(name: str) -> SharedBreaker:
    """The process's circuit breaker for dependency `name` (its state is shared, see breaker.py)."""
    found = _breakers.get(name)
    if found is None:
        with _lock:
            found = _breakers.get(name)
            if found is None:
                conf = policy(name)
                found = _breakers[name] = SharedBreaker(
                    dependency=name,
                    policy=conf.breaker,
                    storage=storage_for(dependency=name, policy=conf.breaker),
                    trial_lease=conf.trial_lease,
                    # Only what _attempt raises counts against the dependency; anything else is a
                    # bug here, not the dependency's failure.
                    exclude=[lambda exc: not isinstance(exc, _Failed)],
                )
    return found


def breaker_states() -> list[BreakerState]:
    """Every configured dependency's breaker, and any other this process has used, sorted by name, as
    every process sees it (read from the shared storage): for /ready and the admin."""
    names = sorted(set(dependency_names()) | set(_breakers))
    return [breaker(name).snapshot() for name in names]


def forget_all() -> None:
    """Drop every client and breaker of this process (their shared state stays in Redis)."""
    with _lock:
        for found in _clients.values():
            found.close()
        _clients.clear()
        _breakers.clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting in ("RESILIENCE", "CACHES"):
        forget_all()


def _after_fork() -> None:
    # A forked child (gunicorn, Celery prefork) must not share its parent's sockets, nor inherit its
    # lock in whatever state another thread of the parent left it.
    global _lock
    _lock = threading.RLock()
    _clients.clear()
    _breakers.clear()


os.register_at_fork(after_in_child=_after_fork)
