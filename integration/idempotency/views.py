"""The `@idempotent` decorator: one line that makes a DRF view method honour the Idempotency-Key header.

    class RefundCreateApi(APIView):
        @idempotent
        def post(self, request, order_number): ...

Semantics follow the IETF HTTPAPI draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header) and Stripe's documented behaviour ("Idempotent requests"
in the Stripe API reference):

* the header is required: missing is 400 `idempotency-key-required`; longer than 255 characters,
  empty, or not printable ASCII (0x20-0x7E) is 400 `idempotency-key-invalid`. The value is the key as
  sent (Stripe's practice; a client that quotes it as the draft's structured-field string simply
  sends the quotes every time);
* keys belong to the authenticated caller (an anonymous caller gets 401: there is no one to scope the
  key to); one user's key never answers another user's request;
* the same key with the same request (method, path with query string, and body) replays the stored
  response: same status, body, Content-Type, Location (core.STORED_HEADERS), plus
  `Idempotent-Replayed: true`. A JSON body is compared in canonical form (key order and whitespace do
  not matter); any other body byte for byte;
* the same key with a different request is 422 `idempotency-key-reused` (the draft's "Error
  Scenarios", as is the 409 below);
* the same key while its first request runs is 409 `idempotency-key-in-flight` with Retry-After;
* only final outcomes (2xx, 4xx) are stored; after a 5xx or an unhandled exception the key is free
  again. Keys are kept IDEMPOTENCY["RETENTION_SECONDS"] (24 h), then purged by beat.

The view itself may read `request.idempotency_key` to key the service calls it makes, and
`request.idempotency_fingerprint` (hex SHA-256 of the request) to tell a key's requests apart once the
key itself is purged.
The decorated operation documents the required header and its 400/409/422 problems in OpenAPI.
"""

import copy
import functools
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from integration.edge.problems import CONTENT_TYPE, problem
from integration.edge.schema import ProblemSerializer
from integration.idempotency import core
from integration.logging import get_logger

log = get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

_JSON_MEDIA_TYPES = ("application/json",)


def key_problem(raw: str | None) -> tuple[str, str] | None:
    """Why a header value is not an acceptable key, as (problem slug, detail); None if it is one."""
    if raw is None:
        return (
            "idempotency-key-required",
            f"This operation requires an {HEADER} header (a unique value per attempt, such as a UUID).",
        )
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in raw):
        return (
            "idempotency-key-invalid",
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
        )
    return None


def _body_for_fingerprint(request: Request) -> bytes:
    media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _JSON_MEDIA_TYPES or media_type.endswith("+json"):
        # Parsed by the view's own parsers (size and shape limits included); a parse error is the
        # same 400 the view would answer, before any key is claimed.
        return b"json:" + core.canonical_json(request.data)
    return b"raw:" + request.body


def _problem(
    status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        problem(status, slug=slug, title=title, detail=detail),
        status=status,
        headers=headers,
        content_type=CONTENT_TYPE,
    )


def _replay(stored: core.Replay) -> HttpResponse:
    response = HttpResponse(stored.body, status=stored.status)
    for name, value in stored.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _is_final(status: int) -> bool:
    return 200 <= status < 300 or 400 <= status < 500


def idempotent(view_method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a DRF view method (post, put, patch, delete, or a viewset action) to require and honour
    the Idempotency-Key header, as the module describes. Runs after authentication, permissions and
    throttling (they run before any handler), so their refusals are never stored.
    """

    @functools.wraps(view_method)
    def handler(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated(f"{HEADER} keys are kept per user: authenticate first.")
        raw = request.headers.get(HEADER)
        refused = key_problem(raw)
        if refused:
            slug, detail = refused
            title = (
                "Idempotency-Key is required." if slug.endswith("required") else "Idempotency-Key is invalid."
            )
            return _problem(400, slug, title, detail)

        path = request.get_full_path()
        fingerprint = core.request_fingerprint(
            method=request.method, path=path, body=_body_for_fingerprint(request)
        )
        outcome = core.key_claim(
            user_id=str(user.pk), key=raw, fingerprint=fingerprint, method=request.method, path=path
        )
        if isinstance(outcome, core.Replay):
            return _replay(outcome)
        if isinstance(outcome, core.InFlight):
            return _problem(
                409,
                "idempotency-key-in-flight",
                "A request with this Idempotency-Key is still being processed.",
                "Retry after the time in Retry-After to get its outcome.",
                headers={"Retry-After": str(outcome.retry_after)},
            )
        if isinstance(outcome, core.Reused):
            return _problem(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was used for a different request.",
                f"The key was first used for {outcome.method} {outcome.path}, not with this method, path "
                "and body; a new request needs a new key.",
            )

        claim = outcome
        request.idempotency_key = raw
        request.idempotency_fingerprint = fingerprint
        try:
            try:
                response = view_method(self, request, *args, **kwargs)
            except Exception as exc:
                # What dispatch() would do after us: known errors become their 4xx problem, the rest
                # re-raise. Done here so the outcome can be judged, and stored, as the client sees it.
                response = self.handle_exception(exc)
            response = self.finalize_response(request, response, *args, **kwargs)
            if callable(getattr(response, "render", None)):
                response.render()
        except BaseException:
            _release(claim)
            raise

        if not _is_final(response.status_code) or response.streaming:
            _release(claim)
            return response
        headers = {name: response[name] for name in core.STORED_HEADERS if response.has_header(name)}
        try:
            core.key_complete(
                claim=claim, status=response.status_code, headers=headers, body=response.content
            )
        except DatabaseError:
            # The effect has happened; the client hears about it now. A retry after the claim goes
            # stale would run the view again, so this is worth an operator's look.
            log.exception("idempotency.store_failed", key=raw, user_id=str(user.pk))
        return response

    return _documented(handler)


def _release(claim: core.Claim) -> None:
    try:
        core.key_release(claim=claim)
    except DatabaseError:
        # The claim then goes stale after IN_FLIGHT_SECONDS and the key can be retried.
        log.exception("idempotency.release_failed", record_id=claim.record_id)


# --- OpenAPI (drf-spectacular) -----------------------------------------------------------------------

KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    location=OpenApiParameter.HEADER,
    required=True,
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[\\x20-\\x7E]+$"},
    description=(
        "A unique value per logical request (a UUID is ideal), at most 255 printable ASCII characters. "
        "Retrying with the same key and request returns the first outcome; keys are kept 24 hours, per user."
    ),
)

_PROBLEM_RESPONSES = {
    "400": "The Idempotency-Key header is missing (`idempotency-key-required`) or invalid "
    "(`idempotency-key-invalid`), or the request is invalid.",
    "409": "A request with this Idempotency-Key is still running (`idempotency-key-in-flight`); "
    "retry after Retry-After seconds.",
    "422": "This Idempotency-Key was first used with a different request (`idempotency-key-reused`).",
}


_REPLAYED_HEADER_SCHEMA = {
    "description": "`true` when this answer is the stored outcome of an earlier request with the same key.",
    "schema": {"type": "string", "enum": ["true"]},
}
_RETRY_AFTER_SCHEMA = {
    "description": "Seconds to wait before retrying (RFC 9110, section 10.2.3).",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def _documented(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Give the method a drf-spectacular schema class adding the header, the problems and the replay header.

    Built like drf-spectacular's own extend_schema (a subclass of the schema the method already has),
    so it composes with @extend_schema above or below it.
    """
    base = getattr(handler, "kwargs", {}).get("schema") or api_settings.DEFAULT_SCHEMA_CLASS
    if not isinstance(base, type):
        base = type(base)

    class IdempotentSchema(base):
        def get_override_parameters(self):
            return [*super().get_override_parameters(), KEY_PARAMETER]

        def get_operation(self, *args, **kwargs):
            operation = super().get_operation(*args, **kwargs)
            if not operation:
                return operation
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                # A replay repeats the success with one more header. (Stored 4xx replay too, but the
                # shared problem responses are references, which cannot take extra headers.)
                if str(code).startswith("2") and "$ref" not in response:
                    response.setdefault("headers", {})[REPLAYED_HEADER] = copy.deepcopy(
                        _REPLAYED_HEADER_SCHEMA
                    )
            problem_schema = self.resolve_serializer(ProblemSerializer, "response").ref
            for code, description in _PROBLEM_RESPONSES.items():
                if code in responses:
                    # The operation answers this status for its own reasons too (any body can be a
                    # 400; a conflict is a 409); its description covers ours.
                    continue
                responses[code] = {
                    "description": description,
                    "content": {CONTENT_TYPE: {"schema": problem_schema}},
                }
                if code == "409":
                    responses[code]["headers"] = {"Retry-After": copy.deepcopy(_RETRY_AFTER_SCHEMA)}
            operation["responses"] = dict(sorted(responses.items()))
            return operation

    handler.kwargs = {**getattr(handler, "kwargs", {}), "schema": IdempotentSchema}
    return handler
