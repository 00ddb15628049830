"""The edge: request ids, problem+json on every API error, liveness."""

import pytest

pytestmark = pytest.mark.django_db


def test_health_is_ok_and_carries_a_generated_request_id(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response["X-Request-ID"]) == 32


def test_a_well_formed_request_id_is_echoed(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123-def-456")
    assert response["X-Request-ID"] == "abc-123-def-456"


def test_a_malformed_request_id_is_replaced(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="bad id\x01")
    assert response["X-Request-ID"] != "bad id\x01"
    assert len(response["X-Request-ID"]) == 32


def test_unknown_api_path_is_problem_json(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["type"].endswith("/not-found")
    assert body["request_id"] == response["X-Request-ID"]


def _assert_problem(response, status, slug=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://")
    if slug:
        assert body["type"].endswith("/" + slug), body["type"]
    assert "Traceback" not in response.content.decode()
    return body


def test_validation_error_is_a_400_problem_with_field_errors(client):
    body = _assert_problem(
        client.post("/api/testbus/ping/", {"n": -1}, content_type="application/json"), 400, "validation-error"
    )
    assert "n" in body["errors"]


def test_malformed_json_is_a_400_problem(client):
    _assert_problem(client.post("/api/testbus/ping/", "{nope", content_type="application/json"), 400)


def test_missing_credentials_are_a_401_problem(client):
    response = client.get("/api/testbus/private/")
    _assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_wrong_method_is_a_405_problem(client):
    response = client.delete("/api/testbus/ping/")
    _assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response["Allow"]


def test_unhandled_error_is_a_500_problem_without_internals(client):
    client.raise_request_exception = False
    response = client.get("/api/testbus/boom/")
    body = _assert_problem(response, 500, "server-error")
    assert "secret internal detail" not in response.content.decode()
    assert body["request_id"] == response["X-Request-ID"]


def test_non_api_404_stays_an_ordinary_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"] != "application/problem+json"


def test_ready_reports_every_dependency_up(client, settings):
    settings.READY_CACHE_SECONDS = 0
    response = client.get("/ready")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert {name: c["status"] for name, c in checks.items()} == {
        "database": "up",
        "broker": "up",
        "cache": "up",
        "outbox": "up",
    }


def test_ready_is_503_with_detail_when_the_cache_is_down(client, settings, monkeypatch):
    from integration.edge import health

    def broken():
        raise ConnectionError("redis refused the connection")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    settings.READY_CACHE_SECONDS = 0
    response = client.get("/ready")
    body = _assert_problem(response, 503, "not-ready")
    assert body["checks"]["cache"]["status"] == "down"
    # The kind of failure is shown; its text (hosts, users) goes to the log only.
    assert body["checks"]["cache"]["error"] == "ConnectionError"
    assert "redis refused" not in response.content.decode()
    assert body["checks"]["database"]["status"] == "up"
    assert client.get("/health").status_code == 200


def test_cors_headers_come_from_settings(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    allowed = client.options(
        "/api/testbus/ping/", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    denied = client.get("/health", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in denied


def test_openapi_schema_and_offline_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # Swagger UI is served from this project's static files (sidecar), not from a CDN.
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_ready_runs_its_checks_at_most_once_per_interval(client, settings, monkeypatch):
    from integration.edge import health

    calls = []
    monkeypatch.setattr(health, "_last", {})
    monkeypatch.setitem(health.CHECKS, "cache", lambda: calls.append(1) or "up")
    settings.READY_CACHE_SECONDS = 60
    for _ in range(5):
        assert client.get("/ready").status_code == 200
    assert len(calls) == 1


def test_log_lines_carry_the_request_id(client, caplog):
    client.raise_request_exception = False
    with caplog.at_level("ERROR", logger="integration.edge"):
        response = client.get("/api/testbus/boom/", HTTP_X_REQUEST_ID="req-log-000001")
    assert response.status_code == 500
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    error = next(e for e in events if e.get("event") == "edge.unhandled_error")
    assert error["correlation_id"] == "req-log-000001"
    assert error["path"] == "/api/testbus/boom/"


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_answer_other_methods_with_a_405_problem(client, path):
    assert client.get(path).status_code == 200
    _assert_problem(client.options(path), 405)


@pytest.mark.parametrize("path", ["/health/", "/ready/", "/api", "/api/nothing-here"])
def test_near_misses_of_api_paths_are_problems_not_html_pages(client, path):
    _assert_problem(client.get(path), 404)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_plain_http_write_is_refused_not_redirected_to_https(client, settings, method):
    # A client follows a 301 with GET and drops the body: refuse instead (reads keep the redirect).
    settings.SECURE_SSL_REDIRECT = True
    response = getattr(client, method)("/api/v1/products/", {"name": "x"}, content_type="application/json")
    body = _assert_problem(response, 403, "https-required")
    assert "https://" in body["detail"]
    assert client.get("/api/v1/products/").status_code == 301
