"""Calling an extracted context over HTTP, and the wire format both sides share.

Settings (read on every call, so tests may override them):

    CONTEXTS_REMOTE = {"payments": "http://payments:8000"}   # reached over HTTP from this process
    CONTEXTS_SERVED = ["payments"]        # served at /internal/ by this process (None: CONTEXTS_LOCAL's)
    CONTEXTS_READY_REQUIRED = ["payments"]  # remote contexts this process is not ready without

The wire (integration.edge.internal serves it):

    POST <base>/internal/<context>/<function>/
    Authorization: Service <token>           (integration.services.auth: names the calling context)
    X-Request-ID, X-Correlation-ID, X-Causation-ID: the work in progress (integration.correlation)
    {"sku": "A-1", ...}                      the arguments, through the bus's JSON codec

    200 {"result": ...}                      the result, decoded by the operation's return annotation
    4xx problem+json with "exception": {"error": ..., "detail": ..., "fields": {...}}
                                             what the operation raised (integration.errors' wire form),
                                             raised again here as the same type with the same fields

An operation's business error is answered with its edge status (404, 409, 422...); its own transient
error (a provider of that context is down) with 424, never 5xx: the context answered, so its breaker
must not count the answer as a failure, nor the client retry it. Calls go through the resilient client
(integration.resilience), one dependency per remote context ("context-payments" in RESILIENCE), so
timeouts, the breaker and retries are configured there; a call is retried only when the operation is
repeatable (a read or a keyed command, integration.services.Operation). Whatever leaves no answer of the
operation (timeout, refused connection, breaker open, a 5xx, a refused token) is DependencyUnavailable,
a TransientError.
"""

import json
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integration import codec, correlation, errors, placement, resilience
from integration.contexts import context_configs
from integration.logging import get_logger
from integration.services import Operation, auth, contexts, decode_result

log = get_logger("integration.services")

CORRELATION_HEADER = "X-Correlation-ID"
CAUSATION_HEADER = "X-Causation-ID"
# What crossed the wire but is no ContextError: a value the codec refused, a call the signature refused.
CODEC_ERROR = "integration.codec.CodecError"
TYPE_ERROR = "TypeError"
# The status of a transient error the operation itself raised (RFC 4918 section 11.4).
TRANSIENT_STATUS = 424


def remote_contexts() -> dict[str, str]:
    """{context: base URL} of the contexts this process calls over HTTP (CONTEXTS_REMOTE)."""
    return getattr(settings, "CONTEXTS_REMOTE", None) or {}


def served_contexts() -> list[str]:
    """The contexts whose operations this process serves at /internal/: CONTEXTS_SERVED, or (None)
    every local context (CONTEXTS_LOCAL) with operations that is not remote."""
    served = getattr(settings, "CONTEXTS_SERVED", None)
    if served is None:
        remote = remote_contexts()
        return [name for name in contexts() if placement.is_local(name) and name not in remote]
    return list(served)


def ready_required() -> list[str]:
    """Remote contexts without which this process is not ready (CONTEXTS_READY_REQUIRED)."""
    return list(getattr(settings, "CONTEXTS_READY_REQUIRED", None) or [])


def dependency(context: str) -> str:
    """The resilience dependency (client, breaker, RESILIENCE entry) that reaches `context`."""
    return f"context-{context}"


def path(context: str, name: str) -> str:
    return f"/internal/{context}/{name}/"


def ready_path(context: str) -> str:
    return f"/internal/{context}/ready/"


def _url(context: str, path: str) -> str:
    base = remote_contexts().get(context)
    if problem := placement.base_url_problem(context, base):
        raise ImproperlyConfigured(problem)
    return base.rstrip("/") + path


def _calling_context() -> str:
    """The context whose code makes the call: the innermost frame in a context's package (a saga step
    of orders, a payments service calling catalog while it serves a call), else SHARED_CALLER."""
    packages = [(config.name + ".", config.label) for config in context_configs()]
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        for package, label in packages:
            if module.startswith(package):
                return label
        frame = frame.f_back
    return auth.SHARED_CALLER


def headers_for(context: str) -> dict[str, str]:
    """The headers of a call to `context`: the service token and the ids of the work in progress."""
    headers = {
        "Authorization": f"{auth.SCHEME} {auth.token_for(caller=_calling_context(), context=context)}",
        "Content-Type": "application/json",
    }
    if correlation_id := correlation.get():
        headers[CORRELATION_HEADER] = correlation_id  # the client adds X-Request-ID (the same id)
    if causation_id := correlation.get_causation():
        headers[CAUSATION_HEADER] = causation_id
    return headers


def raised_to_primitive(exc: BaseException) -> dict[str, Any]:
    """The `exception` member of an error answer (integration.errors' form, or a codec or signature
    refusal)."""
    if isinstance(exc, codec.CodecError):
        return {"error": CODEC_ERROR, "detail": str(exc)}
    if isinstance(exc, TypeError):
        return {"error": TYPE_ERROR, "detail": str(exc)}
    return errors.error_to_primitive(exc)


def raised_from_primitive(data: Any) -> Exception:
    """The inverse of raised_to_primitive: the exception to raise on the caller's side."""
    name = data.get("error") if isinstance(data, dict) else None
    if name == CODEC_ERROR:
        return codec.CodecError(data.get("detail") or "")
    if name == TYPE_ERROR:
        return TypeError(data.get("detail") or "")
    return errors.error_from_primitive(data)


class Http:
    """Call the operation on the process that serves its context (CONTEXTS_REMOTE)."""

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        context = operation.context
        client = resilience.client(dependency(context))
        response = client.post(
            _url(context, path(context, operation.name)),
            content=codec.dumps(arguments).encode(),
            headers=headers_for(context),
            repeatable=operation.repeatable,
        )
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and "result" in body:
            return decode_result(operation, body["result"])
        raised = body.get("exception") if isinstance(body, dict) else None
        if raised is not None:
            raise raised_from_primitive(raised)
        # No answer of the operation: a refused token, a context not served there, a foreign server.
        log.error(
            "services.remote_call_refused",
            operation=operation.qualified_name,
            status=response.status_code,
            detail=body.get("detail") if isinstance(body, dict) else None,
        )
        raise resilience.DependencyUnavailable(
            f"{client.name}: refused {response.status_code}",
            dependency=client.name,
            reason="refused",
            upstream_status=response.status_code,
            attempts=1,
            retry_after=None,
        )


HTTP = Http()


def ready_probe(context: str) -> str:
    """ "up" if the process serving `context` answers that it is ready to serve it (its own database,
    cache, broker); raises otherwise (DependencyUnavailable, or RuntimeError naming the status)."""
    response = resilience.client(dependency(context)).request(
        "GET", _url(context, ready_path(context)), headers=headers_for(context), repeatable=False
    )
    if response.status_code != 200:
        raise RuntimeError(f"{context} answered {response.status_code}")
    return "up"
