"""Edge middleware: the request id on every response and log line, problem+json for every API error,
text that cannot be stored refused at the door, and no redirect for a missing trailing slash."""

import json

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponseBadRequest
from django.middleware import security
from django.urls import Resolver404, resolve

from integration import correlation
from integration.edge.problems import CONTENT_TYPE, problem_response
from integration.logging import get_logger
from integration.text import describe_character, replace_unstorable, unstorable_character

log = get_logger("integration.edge")

HEADER = "X-Request-ID"
_API_PREFIXES = ("/api/", "/internal/")


def is_api_path(path: str) -> bool:
    """Paths whose errors are problem+json: the API, the internal endpoints and the probes (with or
    without a trailing slash: a client that adds one still gets a problem, not an HTML page)."""
    return path.startswith(_API_PREFIXES) or path.rstrip("/") in ("/api", "/internal", "/health", "/ready")


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


class StorableInputMiddleware:
    """Refuse a request whose path, query string or headers carry NUL or a lone surrogate: 400.

    Neither can be stored (integration.text), and a NUL that reaches a query is a database error, so
    these are refused before any view, on every path (API and admin alike), instead of by each view.
    Django decodes the path and query string as UTF-8 with replacement (and re-escapes undecodable
    path bytes), so in practice only NUL gets this far there; JSON bodies are checked by the parser
    (integration.edge.parsers), and form fields by Django's own CharField validator.

    Under the API the answer is a problem: a query parameter is named in `errors` as a serializer
    would name it (validation-error); the path or a header is a plain bad-request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refusal = self._first_unstorable(request)
        if refusal is None:
            return self.get_response(request)
        detail, errors = refusal
        if not is_api_path(request.path):
            return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
        if errors is None:
            return problem_response(400, detail=detail)
        return problem_response(
            400,
            slug="validation-error",
            title="Your request has invalid fields.",
            detail=detail,
            errors=errors,
        )

    @staticmethod
    def _first_unstorable(request) -> tuple[str, dict[str, list[str]] | None] | None:
        """(detail, per-field errors or None) for the first unstorable character, or None."""
        if char := unstorable_character(request.path_info):
            return f"The path contains {describe_character(char)}, which is not allowed.", None
        for key, values in request.GET.lists():
            for text in (key, *values):
                if char := unstorable_character(text):
                    name, code = replace_unstorable(key), describe_character(char)
                    detail = f"The query parameter {name!r} contains {code}, which is not allowed."
                    return detail, {name: [f"Text must not contain {code}."]}
        for meta_name, value in request.META.items():
            is_header = meta_name.startswith("HTTP_") or meta_name == "CONTENT_TYPE"
            if is_header and isinstance(value, str) and (char := unstorable_character(value)):
                header = meta_name.removeprefix("HTTP_").replace("_", "-").title()
                return f"The header {header} contains {describe_character(char)}, which is not allowed.", None
        return None


class TrailingSlashMiddleware:
    """A path that lacks only its trailing slash is served as the slashed route, never redirected.

    Django's APPEND_SLASH answers such a request with a 301 to the slashed path (and, with DEBUG, a
    RuntimeError for POST): clients follow a 301 with GET and drop the body (RFC 9110 section
    15.4.2), so a POST, PUT, PATCH or DELETE would be lost or turned into a read. This middleware
    serves those methods under the slashed route on every path, and every method under the API (an
    API has no use for a redirect round trip). GET and HEAD outside the API (the admin, in a browser)
    keep Django's redirect. Only a path that no route serves, and one does once slashed, is touched.
    """

    _REDIRECT_SAFE = frozenset({"GET", "HEAD"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not path.endswith("/") and (
            request.method not in self._REDIRECT_SAFE or is_api_path(request.path)
        ):
            urlconf = getattr(request, "urlconf", None)
            if not _serves(path, urlconf) and _serves(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return self.get_response(request)


class HttpsWritesMiddleware:
    """Before Django's SecurityMiddleware: a plain-HTTP request with a method other than GET or HEAD,
    which SECURE_SSL_REDIRECT would answer with a 301 to HTTPS, is refused instead (403 problem
    `https-required`). A client follows a 301 with GET and drops the body (RFC 9110 section 15.4.2),
    and the body has already crossed the network in clear. GET and HEAD keep the redirect."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Django's own decision (settings, exempt paths, proxies), asked without acting on it.
        self._security = security.SecurityMiddleware(get_response)

    def __call__(self, request):
        if request.method not in ("GET", "HEAD"):
            redirect = self._security.process_request(request)
            if redirect is not None:
                return problem_response(
                    403,
                    slug="https-required",
                    detail=f"Send {request.method} requests over HTTPS: {redirect['Location']}",
                )
        return self.get_response(request)


def _serves(path: str, urlconf) -> bool:
    """Whether a route serves `path` itself. A catch-all marked @no_append_slash (the admin's, which
    would answer with its own 301 to the slashed path) does not count."""
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    return getattr(match.func, "should_append_slash", True)


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
