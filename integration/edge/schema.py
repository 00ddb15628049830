"""The OpenAPI 3.0 contract (drf-spectacular), inferred from each view so a new endpoint is born exact.

Storefront teams generate clients from /api/schema/, and the contract test (tests/contract) fuzzes the
running server against it, so whatever this module infers must be what the server does. Per operation:

* **security**: none when the view authenticates no one (register, login, refresh) or when its
  permissions admit anonymous callers for the method (public browsing); bearer otherwise. A view whose
  answer differs for an authenticated caller says so with `extend_schema(auth=OPTIONAL_AUTH)`.
* **problem responses** (RFC 9457 `application/problem+json`, the `Problem` component), from what the
  operation can run into: 400 with a body or query parameters; 401 whenever a token is read (a bad one
  is refused even where none is needed) or the permissions refuse anonymous callers; 403 when they
  refuse an authenticated caller; 404 with path parameters; 406 always (content negotiation); 412 with
  an `If-Match` parameter; 413 and 415 with a body; 429 with throttles; 503 when the shared cache is
  needed (rate-limit counters, token revocation), which fails closed. The business errors an
  operation raises (409, 422, or 401 from a login) it declares by class, which also lists their `type`
  slugs: `extend_schema(responses={201: X, **problems(ProductAlreadyExists, CategoryNotFound)})`.
* **lists**: a GET without path parameters on a paginated `GenericAPIView` answers the page envelope
  (`count`, `next`, `previous`, `results`), with `page` and `page_size` as the paginator states them.
* **request bodies** as DRF and the parser take them: a required text field holds a non-blank
  character (DRF trims whitespace first); a decimal string has digits on each side of the point; a
  value a shared validator lists (currencies) is an enum; an optional query field may be sent empty
  (DRF reads that as absent); members no field reads, and free-form JSON fields, must be storable
  JSON (`JSONValue`: the parser refuses NUL, lone surrogates and numbers beyond 64 bits anywhere).
  Request and response shapes are separate components (COMPONENT_SPLIT_REQUEST).

Only the public API (`/api/v1/`) is described; test-only and internal service endpoints are not part of
the storefront's contract.
"""

import re
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from django.conf import settings
from drf_spectacular.drainage import has_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, append_meta, force_instance, is_basic_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.fields import _UnvalidatedField  # DRF's child of a ListField/DictField given none
from rest_framework.generics import GenericAPIView

from integration import money
from integration.edge.parsers import INT_MAX, INT_MIN
from integration.edge.problems import CONTENT_TYPE as PROBLEM_MEDIA_TYPE
from integration.edge.problems import STATUS_BY_KIND
from integration.errors import ContextError

SCHEME = "bearerAuth"
# Security for an operation anyone may call but whose answer depends on who calls (OpenAPI 3.0.3,
# "Security Requirement Object": an empty requirement makes authentication optional).
OPTIONAL_AUTH: list[dict[str, list]] = [{SCHEME: []}, {}]

_RESPONSES = "#/components/responses/"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# status -> (shared response component, description). Every 4xx/5xx under /api/ is problem+json
# (integration.edge.problems and .middleware), so each status has one shared description.
PROBLEMS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "The request is malformed or breaks a rule. For invalid fields the `type` ends in "
        "`validation-error` and `errors` maps each field (dotted path) to its messages.",
    ),
    401: (
        "Unauthenticated",
        "No valid credentials: the bearer token is malformed, expired or revoked, or one is needed and "
        "missing (or, on login and refresh, the credentials or refresh token are refused).",
    ),
    403: ("Forbidden", "Authenticated, but the token's roles do not allow this operation."),
    404: ("NotFound", "Nothing exists at this path (or it is not visible to the caller)."),
    406: ("NotAcceptable", "The Accept header admits no media type this operation answers with."),
    409: ("Conflict", "The request is valid but the current state refuses it; `type` says why."),
    412: ("PreconditionFailed", "A condition the request set (If-Match, If-None-Match) does not hold."),
    413: ("PayloadTooLarge", "The request body is larger than the server accepts."),
    415: ("UnsupportedMediaType", "The request body is not `application/json`."),
    422: ("Unprocessable", "The request is well-formed, but a business rule refuses its content."),
    429: ("RateLimited", "Too many requests: wait `Retry-After` seconds before trying again."),
    503: (
        "Unavailable",
        "A shared dependency this request needs (rate-limit counters, the token revocation store) "
        "cannot be reached; the server refuses rather than guess. Try again shortly.",
    ),
}
_HEADERS = {
    "X-Request-ID": {
        "description": "This request's id: the client's own if it sent a well-formed one, else a new one.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying (RFC 9110, section 10.2.3).",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme to use (RFC 9110, section 11.6.1): `Bearer`.",
        "schema": {"type": "string"},
    },
}
_HEADERS_OF_STATUS = {401: ("WWW-Authenticate", False), 429: ("Retry-After", True)}


# Shared validators that accept a list of values the schema can state as an enum (not a pattern that
# admits values the validator refuses, such as "QQQ" for a currency).
_ENUM_VALIDATORS = [(money.currency_validator, lambda: sorted(money.EXPONENTS))]


class ProblemSerializer(serializers.Serializer):
    """An error, as RFC 9457 problem details (`application/problem+json`).

    Members beyond these carry the error's own fields (for example the SKUs that are out of stock).
    """

    type = serializers.URLField(help_text="Stable URI of the kind of error; its last segment is a slug.")
    title = serializers.CharField(help_text="Short summary of the kind of error.")
    status = serializers.IntegerField(min_value=400, max_value=599, help_text="The HTTP status.")
    detail = serializers.CharField(required=False, help_text="What went wrong in this occurrence.")
    request_id = serializers.CharField(required=False, help_text="The X-Request-ID of the request.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors: field path (`name`, `lines[0].sku`) -> messages.",
    )


def _status_of_kind(error: type[ContextError]) -> int:
    for cls in error.__mro__:
        if cls in STATUS_BY_KIND:
            return STATUS_BY_KIND[cls]
    raise ValueError(f"{error.__name__} is of no kind the edge maps to a status")


def problems(*raised: int | type[ContextError]) -> dict[int, OpenApiResponse]:
    """Problem responses an operation declares beyond those inferred, by the context errors it raises
    (their status from the edge's one table, their codes listed) or by status:

        @extend_schema(responses={201: ProductDetailSerializer, **problems(ProductAlreadyExists)})

    Raises ValueError for a status without a shared problem response or an error of no known kind.
    """
    codes: dict[int, list[str]] = {}
    for item in raised:
        status = item if isinstance(item, int) else _status_of_kind(item)
        if status not in PROBLEMS:
            raise ValueError(f"no shared problem response for status {status}; add it to PROBLEMS")
        bucket = codes.setdefault(status, [])
        if not isinstance(item, int):
            bucket.append(item.code)
    responses = {}
    for status, slugs in sorted(codes.items()):
        description = PROBLEMS[status][1]
        if slugs:
            description += " `type` slugs: " + ", ".join(f"`{s}`" for s in sorted(set(slugs))) + "."
        responses[status] = OpenApiResponse(ProblemSerializer, description=description)
    return responses


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "integration.edge.auth.JWTAuthentication"
    name = SCHEME

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /api/v1/auth/token/ (short-lived; revocable).",
        }


# Callers a permission is asked about, to learn whom it refuses. A member holds no role: a permission
# that refuses it may refuse an authenticated caller (403).
_ANONYMOUS = None
_MEMBER = SimpleNamespace(
    is_authenticated=True, is_anonymous=False, is_active=True, is_staff=False, is_superuser=False,
    id=UUID(int=0), pk=UUID(int=0), roles=(),
)  # fmt: skip


def _admits(permission, view, method: str, user) -> bool:
    """Whether `permission` lets `user` call `method` on `view`; False if it cannot be asked (it may
    read more of the request than a method and a caller): assume it refuses."""
    request = SimpleNamespace(method=method, user=user, auth=None, query_params={}, data={})
    try:
        return bool(permission.has_permission(request, view))
    except Exception:
        return False


class ShopAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with this API's security, problem responses, lists and fields."""

    # --- who may call ---------------------------------------------------------------------------------

    def _admitted(self, user) -> bool:
        return all(_admits(p, self.view, self.method, user) for p in self.view.get_permissions())

    def get_auth(self) -> list[dict[str, list]]:
        required = super().get_auth()  # also registers the bearer scheme's component
        if not self.view.get_authenticators() or self._admitted(_ANONYMOUS):
            return []
        return [r for r in required if r]

    # --- what can go wrong ----------------------------------------------------------------------------

    def _inferred_problems(self, operation: dict[str, Any]) -> set[int]:
        view = self.view
        parameters = operation.get("parameters", [])
        where = {p["in"] for p in parameters}
        statuses = {406}
        if "requestBody" in operation:
            statuses |= {400, 413, 415}
        if "query" in where:
            statuses.add(400)
        if "path" in where:
            statuses.add(404)
        if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
            statuses.add(412)
        authenticates = bool(view.get_authenticators())
        if authenticates:
            statuses |= {401, 503}
        if view.get_throttles():
            statuses |= {429, 503}
        if not self._admitted(_ANONYMOUS):
            # DRF answers 401 to an anonymous caller only where a scheme could have authenticated it.
            statuses.add(401 if authenticates else 403)
        if not self._admitted(_MEMBER):
            statuses.add(403)
        return statuses

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self.resolve_serializer(ProblemSerializer, "response")  # registers the Problem component
        responses = operation["responses"]
        for status in self._inferred_problems(operation):
            responses.setdefault(str(status), {"$ref": _RESPONSES + PROBLEMS[status][0]})
        for code, response in list(responses.items()):
            if code.isdigit() and int(code) >= 400 and "$ref" not in response:
                responses[code] = self._problem_response(int(code), response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    @staticmethod
    def _problem_response(status: int, declared: dict[str, Any]) -> dict[str, Any]:
        # A declared problem: the shared response, unless the view described this occurrence itself.
        shared = PROBLEMS.get(status)
        if shared and declared.get("description", "") in ("", shared[1]):
            return {"$ref": _RESPONSES + shared[0]}
        return {**declared, "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}

    # --- lists ----------------------------------------------------------------------------------------

    def _is_list_view(self, serializer=None) -> bool:
        if super()._is_list_view(serializer):
            return True
        # A GenericAPIView that paginates its GET without naming one object (no path variable) lists.
        return (
            self.method == "GET"
            and isinstance(self.view, GenericAPIView)
            and self.view.pagination_class is not None
            and not re.search(r"{\w+}", self.path)
        )

    def get_filter_backends(self):
        # Filter backends filter a view's queryset; a list inferred above reads a selector instead.
        return super().get_filter_backends() if AutoSchema._is_list_view(self) else []

    # --- request fields -------------------------------------------------------------------------------

    def _process_override_parameters(self, direction="request"):
        parameters = super()._process_override_parameters(direction)
        for parameter in self.get_override_parameters():
            if not is_basic_serializer(parameter):
                continue
            # A query string is form input to DRF: an optional field sent empty (`?search=`) counts
            # as not sent, so the empty value is accepted whatever the field's own rules.
            for name, field in force_instance(parameter).fields.items():
                found = parameters.get((name, "query"))
                if found is not None and not field.required:
                    found["allowEmptyValue"] = True
        return parameters

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            # Only the listed fields are read and anything else is ignored, but the parser has seen it
            # first: it must be storable JSON like the rest of the document.
            schema["additionalProperties"] = self._json_value()
        return schema

    def _json_value(self) -> dict[str, str]:
        """A $ref to JSONValue: any JSON the API stores (registered once)."""
        self.registry.register_on_missing(
            ResolvedComponent(
                name="JSONValue", type=ResolvedComponent.SCHEMA, object="JSONValue", schema=JSON_VALUE
            )
        )
        return {"$ref": "#/components/schemas/JSONValue"}

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if direction == "request" and _free_form(field) and not has_override(field, "field"):
            # Free-form JSON is still held to what the parser stores (integration.edge.parsers).
            value = self._json_value()
            if isinstance(field, serializers.DictField):
                schema = {"type": "object", "additionalProperties": value}
            else:
                schema = dict(value)
            return append_meta(schema, self._get_serializer_field_meta(field, direction))
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            isinstance(schema, dict)
            and isinstance(field, serializers.DecimalField)
            and schema.get("type") == "string"
            and field.max_whole_digits is not None
        ):
            # spectacular's pattern admits "", "-" and "."; DRF refuses them. Digits on both sides,
            # ASCII only (JSON Schema's \d is ASCII in ECMA-262, Unicode in Python's re).
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            # A positive minimum (one minor unit, as for an amount to refund) refuses every zero.
            if field.min_value is not None and field.min_value > 0:
                sign = "(?![0.]*$)"
            whole = f"[0-9]{{1,{max(1, field.max_whole_digits)}}}"
            schema["pattern"] = f"^{sign}{whole}(?:\\.[0-9]{{1,{field.decimal_places}}})?$"
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        for validator, values in _ENUM_VALIDATORS:
            if validator in field.validators and schema.get("type") == "string":
                schema["enum"] = values()
                schema.pop("pattern", None)
        for validator in field.validators:
            if isinstance(validator, money.CurrencyValidator) and schema.get("type") == "string":
                schema["enum"] = validator.codes()
                schema.pop("pattern", None)
        if (
            isinstance(field, serializers.CharField)
            and not isinstance(field, serializers.ChoiceField | serializers.RegexField)
            and getattr(field, "trim_whitespace", False)
            and not field.allow_blank
            and schema.get("type") == "string"
            and schema.get("minLength", 0) >= 1
            and not {"pattern", "format", "enum"} & schema.keys()
        ):
            # DRF strips surrounding whitespace before the blank check: "  " is as blank as "".
            schema["pattern"] = r"\S"


# Any JSON value a request may carry where a field takes free-form JSON, and as a member no field
# reads: the parser refuses numbers beyond 64 bits, NUL and lone surrogates at any depth
# (integration.edge.parsers).
_INT64 = {"minimum": INT_MIN, "maximum": INT_MAX}
JSON_VALUE: dict[str, Any] = {
    "description": "Any JSON value: numbers within the signed 64-bit range (whatever their notation), "
    "strings without NUL or lone surrogates, arrays and objects of such values (nested at most "
    "JSON_MAX_DEPTH deep, 64 by default).",
    "nullable": True,
    "anyOf": [
        {"type": "string"},
        {"type": "boolean"},
        {"type": "number", **_INT64},
        {"type": "array", "items": {"$ref": "#/components/schemas/JSONValue"}},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/JSONValue"}},
    ],
}


def _free_form(field) -> bool:
    """A field that takes any JSON (a JSONField, or a DictField/ListField whose child is unvalidated)."""
    if isinstance(field, serializers.JSONField):
        return True
    child = getattr(field, "child", None)
    return isinstance(field, serializers.DictField | serializers.ListField) and isinstance(
        child, _UnvalidatedField
    )


def public_api_only(endpoints, **kwargs):
    """PREPROCESSING_HOOKS: describe only the public API (/api/v1/); the rest is not the storefront's."""
    prefix = settings.SPECTACULAR_SETTINGS.get("SCHEMA_PATH_PREFIX", "/api/v1")
    return [e for e in endpoints if e[0].startswith(prefix.rstrip("/") + "/")]


def problem_components(result, generator, request, public):
    """POSTPROCESSING_HOOKS: the shared problem responses and headers, and X-Request-ID everywhere."""
    components = result.setdefault("components", {})
    components.setdefault("headers", {}).update(_HEADERS)
    shared = components.setdefault("responses", {})
    for status, (name, description) in PROBLEMS.items():
        response: dict[str, Any] = {
            "description": description,
            "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
        }
        if status in _HEADERS_OF_STATUS:
            header, required = _HEADERS_OF_STATUS[status]
            ref = {"$ref": f"#/components/headers/{header}"}
            # A Header Object that is a $ref cannot also say `required`; inline it where it must.
            response["headers"][header] = {**_HEADERS[header], "required": True} if required else ref
        shared[name] = response
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                if "$ref" not in response:
                    response.setdefault("headers", {})["X-Request-ID"] = {
                        "$ref": "#/components/headers/X-Request-ID"
                    }
    return result
