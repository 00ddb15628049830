"""Remote service interfaces: service tokens, the work's ids across the call, errors as themselves,
transport faults as transient errors, retries only where repeating cannot act twice, and /ready.

The serving side is a gunicorn of this project (tests.conftest.services_server); faults are played by
the stub server (integration.resilience.stub) or by stopping a gunicorn.
"""

import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.core import checks, signing
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from contexts.payments import api as payments
from integration import codec, correlation, resilience, services
from integration.checks import extracted_contexts
from integration.edge import health
from integration.errors import TransientError
from integration.resilience.stub import StubServer
from integration.services import auth
from tests.processes import Gunicorn, free_port
from tests.remoteapp import api as probe
from tests.worker import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def _token(context: str = "probe", caller: str = "orders") -> dict:
    return {"Authorization": f"Service {auth.token_for(caller=caller, context=context)}"}


@pytest.fixture
def served(settings, services_server):
    """The probe context reached over HTTP at the test gunicorn."""
    settings.CONTEXTS_REMOTE = {"probe": services_server.url("")}
    return services_server


@pytest.fixture
def dependency(settings):
    """dependency(context, **policy) sets the resilience entry of `context`'s dependency: quick retries
    and a generous breaker unless told otherwise."""

    def configure(context: str, *, breaker: dict | None = None, **overrides) -> None:
        entry = {
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_attempts": 3,
            "backoff_base": 0.02,
            "backoff_max": 0.05,
            "breaker": {"fail_max": 50, "min_calls": 50, **(breaker or {})},
            **overrides,
        }
        settings.RESILIENCE = {
            "DEFAULTS": settings.RESILIENCE["DEFAULTS"],
            "DEPENDENCIES": {f"context-{context}": entry},
        }

    return configure


# --- service auth -------------------------------------------------------------------------------------


def test_a_valid_service_token_is_served(services_server):
    status, headers, body = _post(
        services_server.url("/internal/probe/probe_echo/"), {"text": "hi"}, _token()
    )
    assert (status, headers["Content-Type"]) == (200, "application/json"), body
    assert body["result"]["text"] == "hi"


@pytest.mark.parametrize("case", ["none", "bearer", "garbage", "wrong-secret", "expired", "other-context"])
def test_internal_calls_without_a_valid_service_token_get_401(services_server, case, monkeypatch):
    headers = {}
    if case == "bearer":
        headers = {"Authorization": "Bearer " + auth.token_for(caller="orders", context="probe")}
    elif case == "garbage":
        headers = {"Authorization": "Service not-a-token"}
    elif case == "wrong-secret":
        with override_settings(SERVICE_TOKEN_SECRET="another-secret-entirely-0123456789"):
            headers = _token()
    elif case == "expired":
        # Signed two minutes ago: past SERVICE_TOKEN_TTL_SECONDS (60).
        signed_at = time.time() - 120
        monkeypatch.setattr(signing.time, "time", lambda: signed_at)
        headers = _token()
        monkeypatch.undo()
    elif case == "other-context":
        headers = _token(context="catalog")  # a token for catalog does not open probe (nor payments)
    status, response_headers, body = _post(
        services_server.url("/internal/probe/probe_echo/"), {"text": "hi"}, headers
    )
    assert status == 401, body
    assert response_headers["Content-Type"] == "application/problem+json"
    assert response_headers["WWW-Authenticate"] == "Service"
    assert body["type"].endswith("/service-token-invalid")
    assert "result" not in body


def test_a_token_signed_with_a_retired_secret_still_passes_while_it_is_rotated(settings):
    old = auth.token_for(caller="orders", context="probe")
    settings.SERVICE_TOKEN_SECRET = f"a-new-secret-0123456789abcdef,{settings.SERVICE_TOKEN_SECRET}"
    assert auth.token_verify(old, context="probe") == "orders"
    with pytest.raises(auth.TokenInvalid) as wrong:
        auth.token_verify(old, context="payments")
    assert wrong.value.reason == "context"


def test_a_caller_with_the_wrong_secret_gets_a_transient_refusal_not_a_result(served, settings):
    settings.SERVICE_TOKEN_SECRET = "another-secret-entirely-0123456789"
    with pytest.raises(resilience.DependencyUnavailable) as refused:
        probe.probe_echo(text="hi")
    assert (refused.value.reason, refused.value.upstream_status) == ("refused", 401)


def test_an_unknown_operation_is_404(services_server):
    status, _, body = _post(services_server.url("/internal/probe/probe_nothing/"), {}, _token())
    assert status == 404 and body["status"] == 404


def _caller_named_by_a_call_from(module: str) -> str:
    namespace = {"__name__": module, "remote": services.remote}
    exec("def call():\n    return remote.headers_for('probe')", namespace)
    token = namespace["call"]()["Authorization"].split(" ", 1)[1]
    return auth.token_verify(token, context="probe")


def test_the_token_names_the_calling_context():
    # The innermost frame in a context's package names the caller: a saga step of orders...
    assert _caller_named_by_a_call_from("contexts.orders.saga.steps") == "orders"
    # ...while code of no context (the edge, a command, this test) calls as the shared tier.
    assert _caller_named_by_a_call_from("integration.edge.auth") == auth.SHARED_CALLER == "integration"


def test_internal_endpoints_are_not_in_the_public_schema(tmp_path):
    out = tmp_path / "openapi.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(out))
    paths = json.loads(out.read_text())["paths"]
    assert paths and not [p for p in paths if p.startswith("/internal")]


# --- the call itself ----------------------------------------------------------------------------------


def test_the_request_and_correlation_ids_travel_with_the_call(served):
    with correlation.bound("corr-0123456789", causation_id="event-0123456789"):
        seen = probe.probe_echo(text="hello")
    assert seen == probe.Seen(text="hello", correlation_id="corr-0123456789", causation_id="event-0123456789")

    status, headers, _ = _post(
        served.url("/internal/probe/probe_echo/"),
        {"text": "x"},
        {**_token(), "X-Request-ID": "req-0123456789"},
    )
    assert (status, headers["X-Request-ID"]) == (200, "req-0123456789")


def _raised(call):
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


@pytest.mark.parametrize("kind", ["business", "transient", "validation"])
def test_errors_cross_as_the_same_type_with_the_same_fields(served, kind):
    over_http = _raised(lambda: probe.probe_fail(kind=kind))
    with override_settings(CONTEXTS_REMOTE={}):
        in_process = _raised(lambda: probe.probe_fail(kind=kind))
    assert type(over_http) is type(in_process)
    if isinstance(over_http, ValidationError):
        assert over_http.message_dict == in_process.message_dict == {"lines": ["At most three lines."]}
    else:
        assert over_http == in_process  # type, detail and fields (typed: a Decimal stays a Decimal)
    if kind == "transient":
        # The operation's own transient error is no transport failure: it is not retried or counted.
        assert over_http.retry_after == 3
        assert resilience.breaker("context-probe").snapshot().failures == 0


def test_arguments_the_codec_refuses_fail_alike_and_a_bug_is_a_transient_failure(served, settings):
    with pytest.raises(codec.CodecError, match="cannot encode"):
        probe.probe_echo(text=object())  # refused before it is sent, as in-process
    # A value the serving side cannot decode by the annotation: a CodecError naming the argument.
    with pytest.raises(codec.CodecError, match=r"probe.probe_echo\(text\)"):
        probe.probe_echo(text=5)
    with override_settings(CONTEXTS_REMOTE={}), pytest.raises(codec.CodecError, match=r"probe_echo\(text\)"):
        probe.probe_echo(text=5)
    # A bug in the operation is a 500 there: no answer of the operation, so a transient failure here.
    with pytest.raises(resilience.DependencyUnavailable) as bug:
        probe.probe_fail(kind="bug")
    assert (bug.value.reason, bug.value.upstream_status) == ("status", 500)


# --- hostile input at /internal/ ----------------------------------------------------------------------


def _post_raw(url: str, body: bytes, headers: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"sku": "A\\u0000B"}', id="nul"),
        pytest.param('{"sku": "\\ud800"}', id="lone-surrogate"),
        pytest.param('{"sku": ' + "[" * 100_000 + "]" * 100_000 + "}", id="deeper-than-the-stack"),
        pytest.param('{"sku": ' + "[" * 65 + "]" * 65 + "}", id="deeper-than-json-max-depth"),
        pytest.param('{"sku": NaN}', id="nan"),
        pytest.param('{"sku": "A", "sku": "B"}', id="a-name-twice"),
        pytest.param('{"sku": 1e400}', id="huge-number"),
    ],
)
def test_arguments_no_operation_could_take_are_a_400_problem_never_a_500(services_server, body):
    """A call whose arguments cannot be stored (NUL, a lone surrogate) or parsed safely is refused as the
    public API refuses such a body, before the operation runs: a 500 would reach the caller as a
    transport failure, retried and counted by its breaker, for a call that can never succeed."""
    status, headers, answer = _post_raw(
        services_server.url("/internal/catalog/product_get/"), body.encode(), _token(context="catalog")
    )
    assert status == 400, answer
    assert headers["Content-Type"] == "application/problem+json"
    # The caller raises it again as a CodecError, as for any argument the codec refuses.
    assert answer["exception"]["error"] == services.remote.CODEC_ERROR


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/internal/nowhere/anything/"), ("GET", "/internal/nowhere/ready/")],
)
def test_a_context_not_served_here_is_401_without_a_token_and_404_with_one(services_server, method, path):
    """Without a valid token nothing about the process is told, not even which contexts it serves."""
    url = services_server.url(path)
    body = b"{}" if method == "POST" else None
    for headers, expected in (({}, 401), (_token(context="catalog"), 401), (_token(context="nowhere"), 404)):
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=15)
        assert answer.value.code == expected, headers
        assert answer.value.headers["Content-Type"] == "application/problem+json"


# --- transport faults ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stopped_service_is_a_transient_error_then_the_breaker_opens_and_fails_fast(settings, dependency):
    server = Gunicorn(
        {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "LOG_LEVEL": "WARNING",
        }
    ).wait_ready()
    try:
        settings.CONTEXTS_REMOTE = {"payments": server.url("")}
        dependency("payments", max_attempts=2, breaker={"fail_max": 3})
        with pytest.raises(payments.PaymentNotFound):
            payments.payment_get(payment_id=uuid.UUID(int=1))  # it answers
    finally:
        server.stop()

    failures = []
    for _ in range(2):  # a read: 2 attempts each, refused connections (the breaker opens at the 3rd)
        with pytest.raises(resilience.DependencyUnavailable) as down:
            payments.payment_get(payment_id=uuid.UUID(int=1))
        failures.append(down.value)
    assert isinstance(failures[0], TransientError)
    assert failures[0].reason == "connect" and failures[0].dependency == "context-payments"
    assert resilience.breaker("context-payments").snapshot().state == "open"

    started = time.monotonic()
    with pytest.raises(resilience.DependencyUnavailable) as fast:
        payments.payment_capture(key="saga-1:capture", payment_id=uuid.UUID(int=1))
    assert (fast.value.reason, fast.value.attempts) == ("breaker-open", 0)
    assert time.monotonic() - started < 0.5
    assert fast.value.retry_after and fast.value.retry_after > 0


@pytest.mark.slow
def test_five_seconds_of_latency_times_out_at_the_configured_bound(settings, dependency):
    with StubServer() as stub:
        stub.app.add_fault(latency=5, times=None)
        settings.CONTEXTS_REMOTE = {"payments": stub.url}
        dependency("payments", read_timeout=0.5, max_attempts=2)
        started = time.monotonic()
        with pytest.raises(resilience.DependencyUnavailable) as slow:
            payments.payment_get(payment_id=uuid.UUID(int=1))
        elapsed = time.monotonic() - started
        assert (slow.value.reason, slow.value.attempts) == ("timeout", 2)
        assert stub.app.total_calls == 2
        assert 1.0 <= elapsed < 2.5  # two attempts of 0.5 s, never the 5 s


@pytest.mark.parametrize(
    ("operation", "arguments", "attempts"),
    [
        ("probe_echo", {"text": "read"}, 3),  # declared read=True
        ("probe_keyed", {"key": "k-1", "text": "x"}, 3),  # a keyed command
        ("probe_note", {"text": "unkeyed"}, 1),  # neither: sent once
    ],
)
def test_only_reads_and_keyed_commands_are_retried(settings, dependency, operation, arguments, attempts):
    with StubServer() as stub:
        stub.app.add_fault(status=503, times=None)
        settings.CONTEXTS_REMOTE = {"probe": stub.url}
        dependency("probe", max_attempts=3)
        with pytest.raises(resilience.DependencyUnavailable) as failed:
            services.call("probe", operation, arguments)
        assert (failed.value.reason, failed.value.upstream_status) == ("status", 503)
        assert stub.app.total_calls == failed.value.attempts == attempts


def test_every_context_operation_is_a_read_or_a_keyed_command():
    for op in services.operations():
        if op.context != "probe":
            assert op.repeatable, f"{op.qualified_name}: declare read=True, or give the command a key"
    with pytest.raises(services.RegistryError, match="a read has no idempotency key"):

        @services.operation("probe", read=True)
        def probe_both(*, key: str) -> str:
            return key

    with pytest.raises(services.RegistryError, match="'ready' is reserved"):

        @services.operation("probe", read=True)
        def ready() -> bool:
            return True


# --- readiness ----------------------------------------------------------------------------------------


@pytest.fixture
def ready(client, monkeypatch):
    def get():
        monkeypatch.setattr(health, "_last", {})
        response = client.get("/ready")
        return response.status_code, response.json()

    return get


def test_ready_includes_each_remote_context(ready, settings, services_server):
    settings.CONTEXTS_REMOTE = {"payments": services_server.url(""), "catalog": services_server.url("")}
    status, body = ready()
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["context-payments"]["status"] == "up"
    assert body["checks"]["context-catalog"]["status"] == "up"


def test_an_unreachable_context_not_needed_for_readiness_is_degraded_a_required_one_is_down(
    ready, settings, dependency
):
    dependency("payments", connect_timeout=0.5)
    settings.CONTEXTS_REMOTE = {"payments": f"http://127.0.0.1:{free_port()}"}
    status, body = ready()
    assert (status, body["status"]) == (200, "degraded"), body
    assert body["checks"]["context-payments"]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "up"

    settings.CONTEXTS_READY_REQUIRED = ["payments"]
    status, body = ready()
    assert status == 503, body
    assert body["checks"]["context-payments"]["status"] == "down"
    assert "context-payments" in body["detail"]


def test_the_settings_of_extracted_contexts_are_checked(settings):
    settings.CONTEXTS_REMOTE = {"payments": "payments:8000", "nowhere": "http://x"}
    settings.CONTEXTS_SERVED = ["payments", "catalog"]
    settings.CONTEXTS_READY_REQUIRED = ["shipping"]
    found = extracted_contexts(None)
    messages = " | ".join(e.msg for e in found)
    assert all(isinstance(e, checks.Error) and e.id == "integration.E006" for e in found)
    assert "'nowhere', which has no api" in messages
    assert "CONTEXTS_REMOTE['payments'] is 'payments:8000', not an http(s) base URL" in messages
    assert "'payments' is both served here" in messages
    assert "CONTEXTS_READY_REQUIRED names 'shipping'" in messages


def test_internal_calls_over_plain_http_are_not_refused_for_want_of_https(client, settings):
    # Production redirects (and refuses writes over) plain HTTP; internal calls inside the deployment's
    # network are exempt, and still need their token.
    settings.SECURE_SSL_REDIRECT = True
    response = client.post("/internal/probe/probe_echo/", {"text": "x"}, content_type="application/json")
    assert response.status_code == 401
    assert client.post("/api/v1/auth/token/", {}).status_code == 403  # the public API is not exempt
