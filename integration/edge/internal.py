"""The internal endpoints: every served context's api at `/internal/<context>/<function>/`.

Nothing here is written per function: one view looks the operation up in the registry
(integration.services) and serves it in the wire format of integration.services.remote, for the
contexts this process serves (CONTEXTS_SERVED). Callers are other processes of the deployment, with a
service token (integration.services.auth); anything else gets a 401 problem. These routes are not
part of the public API and never appear in its OpenAPI schema (which describes /api/v1/ only).

    POST /internal/<context>/<function>/   call the operation (arguments as a JSON object)
    GET  /internal/<context>/ready/        the serving process's own readiness (database, cache,
                                           broker, outbox), for the caller's /ready
"""

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from rest_framework import exceptions as drf_exceptions

from integration import codec, correlation, errors
from integration.edge import parsers
from integration.edge.problems import CONTENT_TYPE, problem, problem_response, status_of
from integration.logging import get_logger
from integration.services import auth, decode_arguments, operation_named, remote

log = get_logger("integration.edge")


def _refusal(request, context: str):
    """A 401 or 404 problem if the request may not reach `context` here; else None. The token is
    checked first: without one, nothing is told, not even which contexts this process serves."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        if scheme != auth.SCHEME:
            raise auth.TokenInvalid("missing", f"Send `Authorization: {auth.SCHEME} <token>`.")
        request.service_caller = auth.token_verify(token.strip(), context=context)
    except auth.TokenInvalid as exc:
        log.warning("internal.token_refused", context=context, reason=exc.reason)
        return problem_response(
            401, slug="service-token-invalid", detail=str(exc), headers={"WWW-Authenticate": auth.SCHEME}
        )
    if context not in remote.served_contexts():
        return problem_response(404, detail=f"This process does not serve {context!r}.")
    return None


def _arguments_sent(request) -> dict:
    """The call's arguments, a JSON object read by the public API's rules (integration.edge.parsers:
    no NUL or lone surrogate, bounded depth and numbers, each name once); CodecError otherwise."""
    try:
        sent = parsers.parse_json(request.body.decode("utf-8")) if request.body else {}
    except UnicodeDecodeError:
        raise codec.CodecError("The request body is not valid UTF-8.") from None
    except drf_exceptions.ParseError as exc:
        raise codec.CodecError(str(exc.detail)) from None
    except drf_exceptions.ValidationError as exc:
        problems = (f"{path}: {' '.join(map(str, found))}" for path, found in exc.detail.items())
        raise codec.CodecError("; ".join(problems)) from None
    if not isinstance(sent, dict):
        raise codec.CodecError("the arguments are a JSON object")
    return sent


def _error_answer(exc: Exception) -> JsonResponse:
    """What the operation raised, as a problem carrying it in `exception`."""
    raised = remote.raised_to_primitive(exc)
    if isinstance(exc, errors.TransientError):
        status, slug = remote.TRANSIENT_STATUS, exc.code
    elif isinstance(exc, errors.ContextError):
        status, slug = status_of(exc), exc.code
    elif isinstance(exc, ValidationError):
        status, slug = 400, "validation-error"
    else:  # the codec or the signature refused the arguments
        status, slug = 400, "bad-arguments"
    body = problem(status, slug=slug, detail=raised.get("detail") or None, exception=raised)
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)


@csrf_exempt
@never_cache
@require_POST
def operation_call(request, context: str, name: str):
    if refusal := _refusal(request, context):
        return refusal
    try:
        op = operation_named(context, name)
    except LookupError:
        return problem_response(404, detail=f"{context}.{name} is not an operation.")
    incoming = request.headers.get(remote.CORRELATION_HEADER)
    causation = request.headers.get(remote.CAUSATION_HEADER)
    with correlation.bound(
        incoming if correlation.is_well_formed(incoming) else correlation.get(),
        causation_id=causation if correlation.is_well_formed(causation) else None,
    ):
        try:
            sent = _arguments_sent(request)
            unknown, missing = set(sent) - set(op.parameters), op.required - set(sent)
            if unknown or missing:
                raise TypeError(
                    f"{op.qualified_name}() got unexpected {sorted(unknown)} / missing {sorted(missing)}"
                )
            arguments = decode_arguments(op, sent)
        except ValueError as exc:  # CodecError, and anything else a decoder refused
            return _error_answer(exc if isinstance(exc, codec.CodecError) else codec.CodecError(str(exc)))
        except TypeError as exc:
            return _error_answer(exc)
        try:
            result = op.function(**arguments)
        except (errors.ContextError, ValidationError) as exc:
            return _error_answer(exc)
        # A result the codec refuses is a bug of the operation: it propagates, a 500 problem.
        return JsonResponse({"result": codec.to_primitive(result)})


@csrf_exempt
@never_cache
@require_safe
def context_ready(request, context: str):
    from integration.edge import health

    if refusal := _refusal(request, context):
        return refusal
    checks = health.cached_checks(include_remote=False)
    down = sorted(name for name, r in checks.items() if r["status"] == "down")
    if down:
        return problem_response(
            503, slug="not-ready", detail=f"Not ready: {', '.join(down)} down.", checks=checks
        )
    return JsonResponse({"status": "ready", "context": context, "checks": checks})


urlpatterns = [
    path("internal/<str:context>/ready/", context_ready, name="internal-ready"),
    path("internal/<str:context>/<str:name>/", operation_call, name="internal-call"),
]
