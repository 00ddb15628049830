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
