"""Idempotency-Key on unsafe requests, through the throwaway endpoints of tests.idemapp.

Each run of a test view writes one Effect row, so "nothing runs twice" is a row count; each 201 body
carries a fresh nonce, so a replay (same nonce) is told apart from a second run (new nonce).
"""

import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from config.celery import app as celery_app
from integration.idempotency import core, idempotent
from integration.idempotency.models import IdempotencyKey
from tests.idemapp.models import Effect
from tests.idemapp.urls import FlakyApi

CHARGES = "/api/testidem/charges/"
FLAKY = "/api/testidem/flaky/"


def _client(user_id: uuid.UUID | None = None) -> APIClient:
    client = APIClient()
    if user_id is not None:
        token = AccessToken()
        token["user_id"] = str(user_id)
        token["roles"] = ["customer"]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _new_user() -> uuid.UUID:
    # A real account: the edge checks every token against its user's revocation time.
    return get_user_model().objects.create_user(email=f"{uuid.uuid4().hex[:12]}@example.com").pk


@pytest.fixture
def alice(db) -> uuid.UUID:
    return _new_user()


@pytest.fixture
def bob(db) -> uuid.UUID:
    return _new_user()


@pytest.fixture(autouse=True)
def _flaky_reset():
    FlakyApi.failures, FlakyApi.returned_status = 0, None
    yield
    FlakyApi.failures, FlakyApi.returned_status = 0, None


def _post(client: APIClient, url: str, body, key: str | None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    if isinstance(body, str):
        return client.post(url, data=body, content_type="application/json", **headers)
    return client.post(url, body, format="json", **headers)


def _assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug), body
    return body


def _effects(view: str = "charge") -> int:
    return Effect.objects.filter(view=view).count()


# --- the header --------------------------------------------------------------------------------------


def test_a_missing_key_is_a_400_and_nothing_runs(alice):
    response = _post(_client(alice), CHARGES, {"amount": "5.00"}, key=None)

    _assert_problem(response, 400, "idempotency-key-required")
    assert _effects() == 0
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "", "tab\there", "caf\u00e9", "del\x7f"],
    ids=["256-chars", "empty", "tab", "latin-1", "DEL"],
)
def test_an_overlong_or_unprintable_key_is_a_400_and_nothing_runs(alice, key):
    response = _post(_client(alice), CHARGES, {"amount": "5.00"}, key=key)

    _assert_problem(response, 400, "idempotency-key-invalid")
    assert _effects() == 0
    assert not IdempotencyKey.objects.exists()


def test_a_key_of_255_printable_characters_is_accepted(alice):
    key = (" !~" + "x" * 252)[:255]

    response = _post(_client(alice), CHARGES, {"amount": "5.00"}, key=key)

    assert response.status_code == 201, response.content
    assert response.json()["key"] == key


def test_an_anonymous_caller_is_refused_before_any_key_is_kept(db):
    response = _post(_client(), CHARGES, {"amount": "5.00"}, key="anon-1")

    assert response.status_code == 401
    assert not IdempotencyKey.objects.exists()
    assert _effects() == 0


def test_a_body_that_does_not_parse_is_refused_before_the_key_is_claimed(alice):
    client = _client(alice)
    _assert_problem(_post(client, CHARGES, '{"amount": ', key="typo"), 400, "bad-request")

    fixed = _post(client, CHARGES, {"amount": "5.00"}, key="typo")

    assert fixed.status_code == 201
    assert not fixed.has_header("Idempotent-Replayed")


# --- replay, reuse, scope ----------------------------------------------------------------------------


def test_the_same_key_and_request_replay_the_stored_response(alice):
    client = _client(alice)
    first = _post(client, CHARGES, {"amount": "5.00"}, key="order-1")
    assert first.status_code == 201
    assert not first.has_header("Idempotent-Replayed")

    again = _post(client, CHARGES, {"amount": "5.00"}, key="order-1")

    assert again.status_code == 201
    assert again.content == first.content  # the same nonce: the view did not run again
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert again["X-Request-ID"] != first["X-Request-ID"]  # the new request keeps its own id
    assert _effects() == 1


def test_a_json_body_is_compared_in_canonical_form(alice):
    client = _client(alice)
    first = _post(client, CHARGES, '{"amount": "5.00", "hold": 0}', key="canon")

    again = _post(client, CHARGES, '{ "hold":0,\n  "amount":"5.00" }', key="canon")

    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert _effects() == 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (CHARGES, {"amount": "6.00"}),
        (CHARGES + "?currency=EUR", {"amount": "5.00"}),
        (FLAKY, {"amount": "5.00"}),
    ],
    ids=["other-body", "other-query", "other-path"],
)
def test_the_same_key_with_a_different_request_is_a_422(alice, url, body):
    client = _client(alice)
    assert _post(client, CHARGES, {"amount": "5.00"}, key="reuse").status_code == 201

    response = _post(client, url, body, key="reuse")

    problem = _assert_problem(response, 422, "idempotency-key-reused")
    assert "POST /api/testidem/charges/" in problem["detail"]
    assert Effect.objects.count() == 1


def test_keys_are_per_user(alice, bob):
    first = _post(_client(alice), CHARGES, {"amount": "5.00"}, key="shared-key")

    theirs = _post(_client(bob), CHARGES, {"amount": "5.00"}, key="shared-key")

    assert theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert theirs.json()["id"] != first.json()["id"]
    assert _post(_client(bob), CHARGES, {"amount": "5.00"}, key="shared-key").content == theirs.content
    assert set(Effect.objects.values_list("user_id", flat=True)) == {str(alice), str(bob)}


# --- which outcomes are final ------------------------------------------------------------------------


def test_a_4xx_answer_is_final_and_replayed(alice):
    client = _client(alice)
    first = _post(client, CHARGES, {"amount": "-1"}, key="bad-amount")
    _assert_problem(first, 400, "validation-error")

    again = _post(client, CHARGES, {"amount": "-1"}, key="bad-amount")

    assert again.status_code == 400
    assert again.content == first.content
    assert again["Content-Type"] == "application/problem+json"
    assert again["Idempotent-Replayed"] == "true"


def test_after_an_unhandled_error_the_key_can_be_retried_and_the_view_runs_again(alice):
    client = _client(alice)
    FlakyApi.failures = 1

    failed = _post(client, FLAKY, {}, key="flaky-1")
    _assert_problem(failed, 500, "server-error")
    assert not IdempotencyKey.objects.exists()

    retried = _post(client, FLAKY, {}, key="flaky-1")
    assert retried.status_code == 201
    assert not retried.has_header("Idempotent-Replayed")
    assert _effects("flaky") == 2
    assert _post(client, FLAKY, {}, key="flaky-1")["Idempotent-Replayed"] == "true"
    assert _effects("flaky") == 2


def test_a_returned_5xx_is_not_stored_either(alice):
    client = _client(alice)
    FlakyApi.failures, FlakyApi.returned_status = 1, 503

    assert _post(client, FLAKY, {}, key="flaky-2").status_code == 503
    retried = _post(client, FLAKY, {}, key="flaky-2")

    assert retried.status_code == 201
    assert _effects("flaky") == 2


def test_a_request_killed_mid_flight_leaves_a_claim_that_expires(alice, settings, monkeypatch):
    settings.IDEMPOTENCY = {**settings.IDEMPOTENCY, "IN_FLIGHT_SECONDS": 60}
    client = _client(alice)
    # The process dies before it can release its claim: nothing deletes it.
    monkeypatch.setattr(core, "key_release", lambda **_: None)
    FlakyApi.failures = 1
    assert _post(client, FLAKY, {}, key="killed").status_code == 500
    monkeypatch.undo()

    _assert_problem(_post(client, FLAKY, {}, key="killed"), 409, "idempotency-key-in-flight")
    IdempotencyKey.objects.filter(key="killed").update(locked_at=F("locked_at") - timedelta(seconds=61))
    taken_over = _post(client, FLAKY, {}, key="killed")

    assert taken_over.status_code == 201
    assert _effects("flaky") == 2
    record = IdempotencyKey.objects.get(key="killed")
    assert (record.response_status, record.lock_token) == (201, None)


def test_a_claim_lost_to_a_takeover_is_not_overwritten(alice):
    outcome = core.key_claim(user_id=str(alice), key="k", fingerprint="f" * 64, method="POST", path="/x")
    assert isinstance(outcome, core.Claim)
    IdempotencyKey.objects.filter(pk=outcome.record_id).update(lock_token=uuid.uuid4())

    stored = core.key_complete(
        claim=outcome, status=201, headers={"Content-Type": "application/json"}, body=b"{}"
    )

    assert stored is False
    assert IdempotencyKey.objects.get(pk=outcome.record_id).response_status is None


def test_the_database_refuses_a_second_row_per_key_and_a_stored_5xx(alice):
    now = timezone.now()
    row = {"user_id": str(alice), "method": "POST", "path": "/x", "fingerprint": "f" * 64}
    IdempotencyKey.objects.create(key="a", lock_token=uuid.uuid4(), locked_at=now, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotencyKey.objects.create(key="a", lock_token=uuid.uuid4(), locked_at=now, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotencyKey.objects.create(key="b", response_status=500, **row)


# --- under real concurrency (each thread its own connection) -----------------------------------------


def _in_thread(fn, results: list, index: int, barrier: threading.Barrier | None = None):
    def run():
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            results[index] = fn()
        except BaseException as exc:  # surfaced by the assertions below
            results[index] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_key_still_running_is_a_409_with_retry_after_then_replays():
    user = _new_user()
    results: list = [None]
    slow = _in_thread(
        lambda: _post(_client(user), CHARGES, {"amount": "5.00", "hold": 1.5}, "slow"), results, 0
    )
    try:
        # The claim is committed before the view runs: this connection sees it while the view sleeps.
        deadline = timezone.now() + timedelta(seconds=5)
        while not Effect.objects.exists() and timezone.now() < deadline:
            threading.Event().wait(0.02)
        record = IdempotencyKey.objects.get(key="slow")
        assert record.response_status is None and record.lock_token is not None

        busy = _post(_client(user), CHARGES, {"amount": "5.00", "hold": 1.5}, "slow")
        _assert_problem(busy, 409, "idempotency-key-in-flight")
        assert int(busy["Retry-After"]) >= 1
    finally:
        slow.join(timeout=10)

    first = results[0]
    assert first.status_code == 201, first
    replay = _post(_client(user), CHARGES, {"amount": "5.00", "hold": 1.5}, "slow")
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"
    assert _effects() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_run_the_view_exactly_once():
    user = _new_user()
    n = 8
    barrier = threading.Barrier(n)
    results: list = [None] * n
    threads = [
        _in_thread(
            lambda: _post(_client(user), CHARGES, {"amount": "5.00", "hold": 0.3}, "race"),
            results,
            i,
            barrier,
        )
        for i in range(n)
    ]
    for thread in threads:
        thread.join(timeout=20)

    assert not [r for r in results if not hasattr(r, "status_code")], results
    created = [r for r in results if r.status_code == 201 and not r.has_header("Idempotent-Replayed")]
    replayed = [r for r in results if r.has_header("Idempotent-Replayed")]
    busy = [r for r in results if r.status_code == 409]
    assert len(created) == 1, [(r.status_code, r.content) for r in results]
    assert len(created) + len(replayed) + len(busy) == n
    assert all(r.content == created[0].content for r in replayed)
    assert all(r.json()["type"].endswith("/idempotency-key-in-flight") for r in busy)
    assert Effect.objects.count() == 1
    assert IdempotencyKey.objects.get(key="race").response_status == 201


# --- retention and the purge -------------------------------------------------------------------------


def test_a_key_past_its_retention_is_new_again(alice):
    client = _client(alice)
    assert _post(client, CHARGES, {"amount": "5.00"}, key="old").status_code == 201
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    response = _post(client, CHARGES, {"amount": "7.00"}, key="old")

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert _effects() == 2


def test_beat_purges_keys_older_than_the_retention(alice, settings):
    settings.IDEMPOTENCY = {**settings.IDEMPOTENCY, "PURGE_BATCH": 2}
    now = timezone.now()
    row = {"user_id": str(alice), "method": "POST", "path": "/x", "fingerprint": "f" * 64}
    for i in range(5):
        IdempotencyKey.objects.create(
            key=f"old-{i}", created_at=now - timedelta(hours=24, seconds=1 + i), response_status=201, **row
        )
    IdempotencyKey.objects.create(
        key="young", created_at=now - timedelta(hours=23), response_status=201, **row
    )
    IdempotencyKey.objects.create(key="running", lock_token=uuid.uuid4(), locked_at=now, **row)

    schedule = settings.CELERY_BEAT_SCHEDULE["integration.purge_idempotency_keys"]
    purged = celery_app.tasks[schedule["task"]].apply().get()

    assert purged == 5
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"young", "running"}


# --- OpenAPI -----------------------------------------------------------------------------------------


class _RefundSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class _RefundApi(APIView):
    @extend_schema(request=_RefundSerializer, responses={201: _RefundSerializer})
    @idempotent
    def post(self, request):
        return Response(status=201)


class _CaptureApi(APIView):
    @idempotent
    @extend_schema(
        request=None, responses={200: inline_serializer("Captured", {"captured": serializers.BooleanField()})}
    )
    def put(self, request):
        return Response({"captured": True})


@pytest.mark.parametrize(
    ("route", "method", "success"), [("refunds/", "post", "201"), ("captures/", "put", "200")]
)
def test_the_operation_documents_the_header_and_its_problems(route, method, success):
    patterns = [
        path("api/v1/refunds/", _RefundApi.as_view()),
        path("api/v1/captures/", _CaptureApi.as_view()),
    ]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    validate_schema(schema)

    operation = schema["paths"][f"/api/v1/{route}"][method]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and header["required"] is True
    assert header["schema"]["maxLength"] == 255
    responses = operation["responses"]
    assert "Idempotent-Replayed" in responses[success]["headers"]
    assert "content" in responses[success]  # the view's own response survives, whichever order
    for status in ("400", "409", "422"):
        response = responses[status]
        if "$ref" in response:  # a problem response the edge's schema shares between operations
            response = schema["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        assert "application/problem+json" in response["content"]
    assert "Retry-After" in responses["409"]["headers"]
