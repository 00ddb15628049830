"""Operator screens: shipments with their timeline, an operator's tracking event held to the transition
table (refused with an error, never a silent change), and cancelling."""

import dataclasses

import pytest

from contexts.shipping import api
from contexts.shipping.models import TrackingEvent
from tests.shipping.conftest import ADDRESS, ORDER_ID, create, deliver, published, update

pytestmark = pytest.mark.django_db


def _add_event(admin_client, shipment, status, occurred_at="2025-03-01 10:00:00", location="Depot 4"):
    return admin_client.post(
        f"/admin/shipping/shipment/{shipment.id}/add-event/",
        {"status": status, "occurred_at": occurred_at, "location": location},
    )


def test_the_list_searches_by_tracking_number_and_by_order_id(admin_client):
    shipment = create()
    other = create(key="other:ship", order_id=shipment.user_id)
    page = admin_client.get("/admin/shipping/shipment/", {"q": shipment.tracking_number})
    assert page.status_code == 200
    assert (
        shipment.tracking_number.encode() in page.content
        and other.tracking_number.encode() not in page.content
    )
    page = admin_client.get("/admin/shipping/shipment/", {"q": str(ORDER_ID)})
    assert (
        shipment.tracking_number.encode() in page.content
        and other.tracking_number.encode() not in page.content
    )
    assert (
        admin_client.get("/admin/shipping/shipment/", {"status__exact": "label_purchased"}).status_code == 200
    )


def test_the_shipment_page_shows_its_timeline_and_no_save_button(admin_client):
    shipment = create()
    deliver(update(shipment.tracking_number, "adm-1", "in_transit", 1, "Leipzig hub"))
    page = admin_client.get(f"/admin/shipping/shipment/{shipment.id}/change/")
    assert page.status_code == 200
    assert b"Leipzig hub" in page.content and b"adm-1" in page.content
    assert b"Add a tracking event" in page.content
    assert b'name="_save"' not in page.content


def test_an_operator_adds_a_legal_tracking_event(admin_client):
    shipment = create()
    assert admin_client.get(f"/admin/shipping/shipment/{shipment.id}/add-event/").status_code == 200
    response = _add_event(admin_client, shipment, "in_transit")
    assert response.status_code == 302
    event = TrackingEvent.objects.get()
    assert (event.status, event.location, event.source) == ("in_transit", "Depot 4", "staff")
    assert event.actor.startswith("admin:")
    assert api.shipment_get(shipment_id=shipment.id).status == "in_transit"
    assert len(published("shipping.ShipmentInTransit.v1")) == 1


def test_an_illegal_tracking_event_is_an_error_on_the_form_and_changes_nothing(admin_client):
    shipment = create()
    _add_event(admin_client, shipment, "delivered")
    response = _add_event(admin_client, shipment, "in_transit", occurred_at="2025-03-01 11:00:00")
    assert response.status_code == 200
    assert b"The shipment is delivered: it cannot become in_transit." in response.content
    assert api.shipment_get(shipment_id=shipment.id).status == "delivered"
    assert list(TrackingEvent.objects.values_list("status", flat=True)) == ["delivered"]


@pytest.mark.parametrize("occurred_at", ["2999-01-01 00:00:00", "0001-01-01 00:00:00", "1999-12-31 23:59:59"])
def test_the_form_refuses_what_the_service_refuses(admin_client, occurred_at):
    shipment = create()
    response = _add_event(admin_client, shipment, "in_transit", occurred_at=occurred_at)
    assert response.status_code == 200
    assert b"A time from 2000-01-01 to at most 5 minute(s) past the present." in response.content
    assert not TrackingEvent.objects.exists()
    assert admin_client.get("/admin/shipping/shipment/not-a-uuid/add-event/").status_code == 404


def test_the_cancel_action_cancels_what_it_can_and_says_what_it_cannot(admin_client):
    waiting, moving = create(key="w:ship"), create(key="m:ship")
    _add_event(admin_client, moving, "in_transit")
    response = admin_client.post(
        "/admin/shipping/shipment/",
        {"action": "cancel", "_selected_action": [str(waiting.id), str(moving.id)]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"1 shipment(s) cancelled." in response.content
    assert b"can no longer be cancelled" in response.content or b"cannot become cancelled" in response.content
    assert api.shipment_get(shipment_id=waiting.id).status == "cancelled"
    assert api.shipment_get(shipment_id=moving.id).status == "in_transit"


def test_shipments_cannot_be_added_or_deleted_by_hand(admin_client):
    assert admin_client.get("/admin/shipping/shipment/add/").status_code == 403


@pytest.mark.parametrize("not_an_id", ["not-a-uuid", "", "1\x00"])
def test_an_action_given_something_that_is_no_id_does_nothing_and_says_so(admin_client, not_an_id):
    shipment = create()
    response = admin_client.post(
        "/admin/shipping/shipment/",
        {"action": "cancel", "_selected_action": [str(shipment.id), not_an_id]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"is not the id of a shipment: nothing was done." in response.content
    assert api.shipment_get(shipment_id=shipment.id).status == "label_purchased"


def test_the_refused_requests_are_listed_for_operators(admin_client):
    with pytest.raises(api.AddressRejected):
        create(key="refused:ship", address=dataclasses.replace(ADDRESS, postal_code="00000"))
    page = admin_client.get("/admin/shipping/shipmentrefusal/", {"q": str(ORDER_ID)})
    assert page.status_code == 200 and b"refused:ship" in page.content and b"address_rejected" in page.content
    assert admin_client.get("/admin/shipping/shipmentrefusal/", {"q": "not-a-uuid"}).status_code == 200
