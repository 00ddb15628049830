"""The payments REST endpoints: own payments only (staff all), invoices, and staff refunds under an
Idempotency-Key."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from contexts.payments import api
from contexts.payments.models import Refund
from integration.idempotency import core
from integration.idempotency.models import IdempotencyKey
from tests.payments.conftest import authorize, client_for

pytestmark = pytest.mark.django_db

ALICE = uuid.UUID("00000000-0000-4000-8000-0000000a11ce")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")
STAFF = uuid.UUID("00000000-0000-4000-8000-00000000057a")
OTHER_STAFF = uuid.UUID("00000000-0000-4000-8000-00000000057b")


def captured(user_id=ALICE, amount="100.00"):
    payment = authorize(
        key=f"{uuid.uuid4()}:authorize", user_id=user_id, amount=amount, order_id=uuid.uuid4()
    )
    return api.payment_capture(key=f"{payment.id}:capture", payment_id=payment.id)


def refund(client, payment_id, body, key="refund-1"):
    return client.post(
        f"/api/v1/payments/{payment_id}/refunds/", body, format="json", secure=True, HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_customer_lists_and_reads_only_their_own_payments():
    mine, theirs = captured(ALICE), captured(BOB)
    alice = client_for(ALICE)
    listed = alice.get("/api/v1/payments/").json()
    assert [p["id"] for p in listed["results"]] == [str(mine.id)]
    item = listed["results"][0]
    assert item["amount"] == "100.00" and item["captured_amount"] == "100.00" and item["status"] == "captured"
    assert item["invoice_number"] == mine.invoice_number and item["refunds"] == []
    assert "user_id" not in item
    assert alice.get(f"/api/v1/payments/{mine.id}/").status_code == 200
    assert alice.get(f"/api/v1/payments/{theirs.id}/").status_code == 404
    assert alice.get(f"/api/v1/payments/{theirs.id}/invoice/").status_code == 404
    assert alice.get(f"/api/v1/payments/{uuid.uuid4()}/").status_code == 404
    assert alice.get("/api/v1/payments/not-a-uuid/").status_code == 404


def test_staff_see_everyones_payments_and_filter_them():
    captured(ALICE), captured(BOB)
    pending = authorize(key="pending:authorize", user_id=BOB, order_id=uuid.uuid4())
    staff = client_for(STAFF, "customer", "staff")
    listed = staff.get("/api/v1/payments/").json()
    assert listed["count"] == 3 and {p["user_id"] for p in listed["results"]} == {str(ALICE), str(BOB)}
    authorized = staff.get("/api/v1/payments/?status=authorized").json()["results"]
    assert [p["id"] for p in authorized] == [str(pending.id)]
    assert authorized[0]["invoice_number"] is None
    assert staff.get("/api/v1/payments/?status=nonsense").status_code == 400
    assert staff.get("/api/v1/payments/?order_id=nonsense").status_code == 400


def test_the_invoice_is_there_for_the_owner_and_staff_once_captured():
    payment = captured(ALICE)
    body = client_for(ALICE).get(f"/api/v1/payments/{payment.id}/invoice/").json()
    assert body["number"] == payment.invoice_number and body["total"] == "100.00"
    assert body["lines"][0]["amount"] == "100.00"
    assert client_for(STAFF, "staff").get(f"/api/v1/payments/{payment.id}/invoice/").status_code == 200
    pending = authorize(key="p2:authorize", user_id=ALICE, order_id=uuid.uuid4())
    problem = client_for(ALICE).get(f"/api/v1/payments/{pending.id}/invoice/")
    assert problem.status_code == 404 and problem.json()["type"].endswith("/invoice-not-found")


def test_a_customer_posting_a_refund_gets_403_and_nothing_is_refunded():
    payment = captured(ALICE)
    response = refund(client_for(ALICE), payment.id, {"amount": "10.00", "reason": "mine"})
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_staff_refund_part_then_the_rest_and_an_excess_is_409_with_what_remains():
    payment = captured(ALICE)
    staff = client_for(STAFF, "customer", "staff")
    first = refund(staff, payment.id, {"amount": "30.00", "reason": "damaged"}, key="r1")
    assert first.status_code == 201, first.content
    assert first.json()["amount"] == "30.00" and first.json()["status"] == "succeeded"
    too_much = refund(staff, payment.id, {"amount": "70.01", "reason": "all"}, key="r2")
    assert too_much.status_code == 409
    assert too_much.json()["type"].endswith("/refund-exceeds-captured")
    assert Decimal(too_much.json()["remaining"]) == Decimal("70.00")
    rest = refund(staff, payment.id, {"amount": "70.00", "reason": "all"}, key="r3")
    assert rest.status_code == 201
    detail = staff.get(f"/api/v1/payments/{payment.id}/").json()
    assert detail["status"] == "refunded" and detail["refunded_amount"] == "100.00"
    assert [r["amount"] for r in detail["refunds"]] == ["30.00", "70.00"]
    assert set(Refund.objects.values_list("actor", flat=True)) == {f"user:{STAFF}"}


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0", "reason": "x"},
        {"amount": "-1.00", "reason": "x"},
        {"amount": "1.001", "reason": "x"},
        {"amount": 10, "reason": "x"},  # money is a decimal string
        {"amount": "10.00", "reason": ""},
        {"amount": "10.00", "reason": "x" * 301},
        {"amount": "10.00"},
        {"amount": "1e3", "reason": "x"},
        {"amount": "NaN", "reason": "x"},
    ],
)
def test_a_malformed_refund_is_400_and_refunds_nothing(body):
    payment = captured(ALICE)
    response = refund(client_for(STAFF, "staff"), payment.id, body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert not Refund.objects.exists()


def test_refunds_honour_the_idempotency_key():
    payment = captured(ALICE)
    staff = client_for(STAFF, "customer", "staff")
    body = {"amount": "10.00", "reason": "late"}
    first = refund(staff, payment.id, body, key="same")
    replay = refund(staff, payment.id, body, key="same")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert Refund.objects.count() == 1
    # The same key with another body is 422; without a key, 400.
    other = refund(staff, payment.id, {"amount": "11.00", "reason": "late"}, key="same")
    assert other.status_code == 422
    missing = staff.post(f"/api/v1/payments/{payment.id}/refunds/", body, format="json", secure=True)
    assert missing.status_code == 400
    # Keys are per user: another operator's "same" is their own request.
    theirs = refund(client_for(OTHER_STAFF, "staff"), payment.id, body, key="same")
    assert theirs.status_code == 201, theirs.content
    assert theirs.json()["id"] != first.json()["id"]
    assert Refund.objects.count() == 2
    # While a request with a key is still running, the same key is 409 with Retry-After.
    IdempotencyKey.objects.create(
        user_id=str(STAFF),
        key="running",
        method="POST",
        path=f"/api/v1/payments/{payment.id}/refunds/",
        fingerprint=core.request_fingerprint(
            method="POST",
            path=f"/api/v1/payments/{payment.id}/refunds/",
            body=b"json:" + core.canonical_json(body),
        ),
        lock_token=uuid.uuid4(),
        locked_at=timezone.now(),
    )
    running = refund(staff, payment.id, body, key="running")
    assert running.status_code == 409 and "Retry-After" in running
    assert Refund.objects.count() == 2
