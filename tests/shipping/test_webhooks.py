"""Carrier tracking webhooks: signed as payments' are, idempotent by event id, tolerant of disorder."""

import datetime as dt
import json
import time

import pytest
from rest_framework.test import APIClient

from contexts.shipping import api
from contexts.shipping.models import Shipment, TrackingEvent
from integration import webhooks
from integration.webhooks import WebhookDelivery
from tests.shipping.conftest import T0, WEBHOOK, create, deliver, published, update

pytestmark = pytest.mark.django_db


def _timeline(shipment_id) -> list[tuple]:
    return [
        (e.status, e.location, e.occurred_at, e.carrier_event_id)
        for e in api.shipment_get(shipment_id=shipment_id).tracking_events
    ]


def _journey(tracking_number: str, prefix: str) -> list[dict]:
    return [
        update(tracking_number, f"{prefix}-1", "in_transit", 1, "Leipzig hub"),
        update(tracking_number, f"{prefix}-2", "in_transit", 5, "Berlin depot"),
        update(tracking_number, f"{prefix}-3", "out_for_delivery", 20, "Berlin"),
        update(tracking_number, f"{prefix}-4", "delivered", 23, "Berlin, front door"),
    ]


def test_a_journey_delivered_in_order_moves_the_status_and_publishes_each_milestone_once():
    shipment = create()
    outcomes = [deliver(body).json()["outcome"] for body in _journey(shipment.tracking_number, "evt")]
    assert outcomes == ["applied", "recorded", "applied", "applied"]
    after = api.shipment_get(shipment_id=shipment.id)
    assert after.status == "delivered"
    assert [e.location for e in after.tracking_events] == [
        "Leipzig hub",
        "Berlin depot",
        "Berlin",
        "Berlin, front door",
    ]
    for event_type in ("ShipmentInTransit", "ShipmentOutForDelivery", "ShipmentDelivered"):
        [event] = published(f"shipping.{event_type}.v1")
        assert event["shipment_id"] == str(shipment.id) and event["order_id"] == str(shipment.order_id)
    delivered_at = published("shipping.ShipmentDelivered.v1")[0]["occurred_at"]
    assert dt.datetime.fromisoformat(delivered_at) == T0 + dt.timedelta(hours=23)


def test_replayed_three_times_and_out_of_order_ends_as_one_in_order_delivery():
    in_order = create(key="in-order:ship")
    for body in _journey(in_order.tracking_number, "a"):
        assert deliver(body).status_code == 200

    shuffled = create(key="shuffled:ship")
    journey = _journey(shuffled.tracking_number, "b")
    # Delivered first, then the rest backwards, the whole sequence three times over.
    arrivals = [journey[3], journey[1], journey[2], journey[0]] * 3
    outcomes = [deliver(body).json()["outcome"] for body in arrivals]
    assert outcomes[:4] == ["applied", "recorded", "recorded", "recorded"]
    assert outcomes[4:] == ["duplicate"] * 8

    assert api.shipment_get(shipment_id=shuffled.id).status == "delivered"
    strip = [row[:3] for row in _timeline(in_order.id)]
    assert [row[:3] for row in _timeline(shuffled.id)] == strip  # same statuses, places and times, in order
    assert TrackingEvent.objects.filter(shipment_id=shuffled.id).count() == 4
    assert WebhookDelivery.objects.filter(source="shipping.sandbox").count() == 8


def test_a_late_in_transit_after_delivered_goes_into_the_timeline_at_its_time_and_the_status_stays():
    shipment = create()
    deliver(update(shipment.tracking_number, "e-2", "delivered", 30))
    assert deliver(update(shipment.tracking_number, "e-1", "in_transit", 2)).json() == {"outcome": "recorded"}
    after = api.shipment_get(shipment_id=shipment.id)
    assert after.status == "delivered"
    assert [e.status for e in after.tracking_events] == ["in_transit", "delivered"]
    assert not published("shipping.ShipmentInTransit.v1")


def test_a_failed_delivery_then_delivered():
    shipment = create()
    for body in (
        update(shipment.tracking_number, "f-1", "out_for_delivery", 1),
        update(shipment.tracking_number, "f-2", "failed_delivery", 2, "Nobody home"),
        update(shipment.tracking_number, "f-3", "out_for_delivery", 24),
        update(shipment.tracking_number, "f-4", "delivered", 25),
    ):
        deliver(body)
    assert api.shipment_get(shipment_id=shipment.id).status == "delivered"
    [failed] = published("shipping.DeliveryFailed.v1")
    assert failed["location"] == "Nobody home"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("t=1,v1=00", "malformed"),
        ("wrong-secret", "mismatch"),
        ("stale", "stale"),
        ("tampered", "mismatch"),
    ],
)
def test_a_bad_or_stale_signature_is_a_400_and_changes_nothing(header, why):
    shipment = create()
    body = json.dumps(update(shipment.tracking_number, "sig-1", "delivered", 1)).encode()
    if header == "wrong-secret":
        header = webhooks.sign(body, secret="not-the-secret")
    elif header == "stale":
        header = webhooks.sign(
            body, secret="dev-only-shipping-webhook-secret", timestamp=int(time.time()) - 301
        )
    elif header == "tampered":
        header = webhooks.sign(
            body.replace(b"delivered", b"returned"), secret="dev-only-shipping-webhook-secret"
        )
    if why == "malformed":
        header = f"t={int(time.time())}"
    extra = {} if header is None else {"HTTP_SHOP_SIGNATURE": header}
    response = APIClient().post(WEBHOOK, body, content_type="application/json", **extra)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/webhook-signature-invalid") and problem["reason"] == why
    assert api.shipment_get(shipment_id=shipment.id).status == "label_purchased"
    assert not TrackingEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_secret_can_be_rotated(settings):
    shipment = create()
    settings.SHIPPING_WEBHOOK_SECRET = "new-secret,old-secret"
    assert (
        deliver(update(shipment.tracking_number, "r-1", "in_transit", 1), secret="old-secret").status_code
        == 200
    )
    assert (
        deliver(update(shipment.tracking_number, "r-2", "delivered", 2), secret="new-secret").status_code
        == 200
    )
    assert api.shipment_get(shipment_id=shipment.id).status == "delivered"


def test_an_unknown_tracking_number_is_answered_200_ignored_and_logged(caplog):
    response = deliver(update("SBX000000000000", "u-1", "in_transit", 1))
    assert response.status_code == 200 and response.json() == {"outcome": "ignored"}
    assert "shipping.webhook_unknown_tracking_number" in caplog.text and "SBX000000000000" in caplog.text
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "label_purchased"}, "status"),
        ({"status": "lost"}, "status"),
        ({"occurred_at": "2025-03-01T09:00:00"}, "occurred_at"),  # no offset
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"id": "  "}, "id"),
        ({"id": 7}, "id"),
        ({"tracking_number": None}, "tracking_number"),
        ({"location": "x" * 201}, "location"),
    ],
)
def test_a_signed_but_malformed_update_is_a_400_naming_the_field(change, field):
    shipment = create()
    response = deliver({**update(shipment.tracking_number, "m-1", "in_transit", 1), **change})
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not TrackingEvent.objects.exists()


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "occurred_at",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        _iso(dt.datetime.now(dt.UTC) + dt.timedelta(days=1, hours=1)),
    ],
)
def test_a_time_outside_the_window_is_a_400_naming_occurred_at_and_changes_nothing(occurred_at):
    shipment = create()
    response = deliver(
        {**update(shipment.tracking_number, "w-1", "delivered", 1), "occurred_at": occurred_at}
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "occurred_at": ["A time from 2000-01-01 to at most 1 day(s) past the present."]
    }
    assert not TrackingEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert api.shipment_get(shipment_id=shipment.id).status == "label_purchased"


def test_a_carriers_clock_may_run_hours_ahead():
    shipment = create()
    ahead = _iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=20))
    response = deliver({**update(shipment.tracking_number, "w-2", "in_transit", 1), "occurred_at": ahead})
    assert response.status_code == 200 and response.json() == {"outcome": "applied"}


def test_a_signed_body_naming_a_field_twice_is_a_400_and_changes_nothing():
    # Which of the two a parser keeps is not defined (RFC 8259 section 4): the signature vouches for
    # the bytes, not for one reading of them.
    shipment = create()
    body = json.dumps(update(shipment.tracking_number, "d-1", "delivered", 1)).encode()
    body = body.replace(b'"status": "delivered"', b'"status": "delivered", "status": "in_transit"')
    response = deliver(body)
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert "'status'" in response.json()["detail"]
    assert not TrackingEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400():
    assert deliver(b"[1, 2]").status_code == 400
    assert deliver(b'"in_transit"').status_code == 400


def test_unstorable_text_is_refused_by_the_edge_before_anything_else():
    shipment = create()
    body = json.dumps(update(shipment.tracking_number, "n-1", "in_transit", 1, "Ber\u0000lin")).encode()
    response = deliver(body)
    assert response.status_code == 400 and "location" in response.json()["errors"]


def test_a_carrier_that_is_not_configured_is_a_404(settings):
    body = update("SBX000000000001", "x-1", "in_transit", 1)
    response = deliver(body, path="/api/v1/shipping/webhooks/acme/")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


def test_a_webhook_needs_no_token_and_a_token_does_not_replace_the_signature():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = client.post(WEBHOOK, {"id": "t-1"}, format="json")
    assert response.status_code == 400 and response.json()["reason"] == "missing"


def test_an_update_for_a_cancelled_shipment_is_kept_in_the_timeline_only():
    shipment = create()
    api.shipment_cancel(key="c", shipment_id=shipment.id)
    assert deliver(update(shipment.tracking_number, "c-1", "in_transit", 1)).json()["outcome"] == "recorded"
    assert Shipment.objects.get(pk=shipment.id).status == "cancelled"
    assert TrackingEvent.objects.get().occurred_at > T0
