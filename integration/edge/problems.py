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

from integration import correlation

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


class DomainError(Exception):
    """Base for a context's errors that map to a client error at the edge.

    Subclasses set `status` and `slug` (the stable `type`), and may pass `extra` fields.
    """

    status = 400
    slug = "bad-request"
    title = ""

    def __init__(self, detail: str = "", **extra: Any):
        super().__init__(detail or self.title or self.slug)
        self.detail = detail or self.title or self.slug
        self.extra = extra


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
    """DRF's EXCEPTION_HANDLER: APIExceptions and domain errors as problem+json.

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
    if isinstance(exc, DomainError):
        set_rollback()
        body = problem(exc.status, slug=exc.slug, title=exc.title or None, detail=exc.detail, **exc.extra)
        return Response(body, status=exc.status, content_type=CONTENT_TYPE)
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
        errors = _flatten_errors(exc.detail)
        body = problem(
            status,
            slug="validation-error",
            title="Your request has invalid fields.",
            detail="See `errors` for what to correct.",
            errors=errors,
        )
    else:
        slug = _DEFAULT_SLUGS.get(status)
        if isinstance(code, str) and code not in ("error", "invalid") and status in (401, 403):
            slug = code.replace("_", "-")
        body = problem(status, slug=slug, detail=str(exc.detail))
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)
