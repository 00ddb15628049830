"""RFC 9457 problem details: the one shape of every error body under /api/."""

from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from integration import codec, correlation, errors

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://errors.shop.example/"

# Stable `type` slugs by status, for errors that carry no more specific one.
_DEFAULT_SLUGS = {
    400: "bad-request",
    401: "not-authenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "rate-limited",
    500: "server-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


# The one table from an error's kind to its HTTP status. Context errors know no HTTP: the most specific
# kind in an error's class hierarchy decides (integration.errors). Its problem `type` is its `code`.
STATUS_BY_KIND: dict[type[errors.ContextError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.Invalid: 422,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.BusinessError: 400,
    errors.TransientError: 503,
}


def status_of(exc: errors.ContextError) -> int:
    """The HTTP status of a context error: the first kind in its MRO found in STATUS_BY_KIND."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_KIND:
            return STATUS_BY_KIND[cls]
    return 500


def context_error_problem(exc: errors.ContextError) -> tuple[int, dict[str, Any]]:
    """(status, problem body) of a context error: its code as the `type`, its fields as members."""
    status = status_of(exc)
    fields = codec.to_primitive(exc.fields)
    return status, problem(status, slug=exc.code, title=exc.title or None, detail=exc.detail, **fields)


def problem(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "type": TYPE_BASE + (slug or _DEFAULT_SLUGS.get(status, "error")),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    request_id = correlation.get()
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, headers: dict[str, str] | None = None, **kwargs: Any) -> JsonResponse:
    """A plain Django response carrying a problem (for middleware and non-DRF views)."""
    response = JsonResponse(problem(status, **kwargs), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ValidationError detail -> {"field.sub": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                for k, v in _flatten_errors(value, f"{prefix}[{i}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: APIExceptions and context errors as problem+json.

    Anything else is left to propagate, and the edge middleware answers a generic 500 problem.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # Services validate with Django's ValidationError (they know no HTTP): same 400 as a serializer's.
        exc = exceptions.ValidationError(as_serializer_error(exc))

    headers: dict[str, str] = {}
    if isinstance(exc, errors.ContextError):
        set_rollback()
        status, body = context_error_problem(exc)
        if isinstance(exc, errors.TransientError):
            headers["Retry-After"] = str(max(1, int(exc.fields.get("retry_after") or 1)))
        return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)
    if not isinstance(exc, exceptions.APIException):
        return None

    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    status = exc.status_code
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    if isinstance(exc, exceptions.ValidationError):
        body = problem(
            status,
            slug="validation-error",
            title="Your request has invalid fields.",
            detail="See `errors` for what to correct.",
            errors=_flatten_errors(exc.detail),
        )
    else:
        slug = _DEFAULT_SLUGS.get(status)
        if isinstance(code, str) and code not in ("error", "invalid") and status in (401, 403):
            slug = code.replace("_", "-")
        body = problem(status, slug=slug, detail=str(exc.detail))
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)
