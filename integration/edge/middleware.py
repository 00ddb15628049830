"""Edge middleware: the request id on every response and log line, problem+json for every API error."""

import json

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404

from integration import correlation
from integration.edge.problems import CONTENT_TYPE, problem_response
from integration.logging import get_logger

log = get_logger("integration.edge")

HEADER = "X-Request-ID"
_API_PREFIXES = ("/api/", "/internal/")


def is_api_path(path: str) -> bool:
    return path.startswith(_API_PREFIXES) or path in ("/health", "/ready")


class RequestIdMiddleware:
    """Accept a well-formed X-Request-ID or generate one; bind it for logs, events and tasks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER)
        request_id = incoming if correlation.is_well_formed(incoming) else correlation.new_id()
        request.request_id = request_id
        with correlation.bound(request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


class ProblemDetailsMiddleware:
    """Under /api/, no HTML error page ever leaves: errors become application/problem+json.

    DRF views already answer problems (integration.edge.problems.exception_handler); this covers what
    happens outside them: unknown paths, Django's own 4xx, request-size limits and unhandled errors.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_path(request.path):
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith(CONTENT_TYPE):
            return response
        status = response.status_code
        detail = None
        if content_type.startswith("application/json"):
            # A JSON error from a view that does not speak problem+json: keep what it said.
            try:
                payload = json.loads(response.content)
                detail = payload.get("detail") if isinstance(payload, dict) else None
            except (ValueError, AttributeError):
                detail = None
        headers = {
            k: response[k] for k in ("Allow", "Retry-After", "WWW-Authenticate") if response.has_header(k)
        }
        return problem_response(status, detail=detail, headers=headers)

    def process_exception(self, request, exc):
        if not is_api_path(request.path):
            return None
        if isinstance(exc, Http404):
            return problem_response(404, detail="The resource does not exist.")
        if isinstance(exc, PermissionDenied):
            return problem_response(403)
        if isinstance(exc, RequestDataTooBig):
            return problem_response(413, detail="The request body is too large.")
        if isinstance(exc, SuspiciousOperation | BadRequest):
            return problem_response(400, detail="The request is malformed.")
        log.exception("edge.unhandled_error", path=request.path, method=request.method)
        if settings.DEBUG and getattr(settings, "DEBUG_PROPAGATE_EXCEPTIONS", False):
            return None
        return problem_response(500, detail="An unexpected error occurred; it has been logged.")
