"""The shipping api: shipments created and cancelled idempotently by key, the sandbox carrier's labels
and refusals, and an operator's tracking event held to the transition table. Every call crosses the
JSON codec (the test settings), as it will once shipping is extracted."""

import dataclasses
import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contexts.shipping import api, services
from contexts.shipping.models import Shipment, ShipmentLine, TrackingEvent
from integration.bus.models import OutboxMessage
from integration.errors import BusinessError, Conflict
from tests.shipping.conftest import ADDRESS, LINES, ORDER_ID, USER_ID, create, published

pytestmark = pytest.mark.django_db


def test_a_shipment_gets_a_sandbox_label_and_its_created_event():
    shipment = create()
    assert shipment.status == "label_purchased"
    assert shipment.carrier == "sandbox" and shipment.service_level == "standard"
    assert re.fullmatch(r"SBX[0-9]{12}", shipment.tracking_number)
    assert shipment.estimated_delivery == timezone.now().date() + dt.timedelta(days=5)
    assert shipment.address == ADDRESS and shipment.lines == LINES and shipment.tracking_events == ()
    assert (shipment.order_id, shipment.user_id) == (ORDER_ID, USER_ID)
    [event] = published("shipping.ShipmentCreated.v1")
    assert event["shipment_id"] == str(shipment.id) and event["tracking_number"] == shipment.tracking_number
    assert (event["order_id"], event["user_id"]) == (str(ORDER_ID), str(USER_ID))
    assert api.shipment_get(shipment_id=shipment.id) == shipment
    assert api.shipments_for_order(order_id=ORDER_ID) == (shipment,)


def test_express_arrives_sooner():
    shipment = create(service_level="express")
    assert shipment.estimated_delivery == timezone.now().date() + dt.timedelta(days=2)


def test_create_twice_with_the_same_key_gives_one_shipment():
    first = create(key="saga-7:ship")
    again = create(key="saga-7:ship")
    assert again == first
    assert Shipment.objects.count() == 1 and ShipmentLine.objects.count() == 2
    assert len(published("shipping.ShipmentCreated.v1")) == 1


def test_a_key_reused_for_another_request_is_a_conflict_and_changes_nothing():
    create(key="saga-8:ship")
    other_lines = (api.ShipmentLineData(sku="MUG-1", quantity=3),)
    for changed in ({"lines": other_lines}, {"address": dataclasses.replace(ADDRESS, city="Paris")}):
        with pytest.raises(api.ShipmentKeyConflict) as caught:
            create(key="saga-8:ship", **changed)
        assert isinstance(caught.value, Conflict) and caught.value.key == "saga-8:ship"
    assert Shipment.objects.count() == 1


def test_postal_code_00000_is_a_business_error_and_nothing_is_kept():
    with pytest.raises(api.AddressRejected) as caught:
        create(address=dataclasses.replace(ADDRESS, postal_code="00000"))
    error = caught.value
    assert isinstance(error, BusinessError)
    assert (error.code, error.carrier, error.carrier_code) == (
        "address-rejected",
        "sandbox",
        "address_rejected",
    )
    assert not Shipment.objects.exists() and not OutboxMessage.objects.exists()
    # The same key asks again and is refused again: the refusal is the answer for that request.
    with pytest.raises(api.AddressRejected):
        create(address=dataclasses.replace(ADDRESS, postal_code="00000"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"address": dataclasses.replace(ADDRESS, country="XX")}, "address.country"),
        ({"address": dataclasses.replace(ADDRESS, postal_code=" ")}, "address.postal_code"),
        ({"address": dataclasses.replace(ADDRESS, phone="0044 20")}, "address.phone"),
        ({"address": dataclasses.replace(ADDRESS, city="Lon\x00don")}, "address.city"),
        ({"lines": ()}, "lines"),
        ({"lines": (api.ShipmentLineData(sku="A", quantity=0),)}, "lines[0].quantity"),
        ({"lines": (api.ShipmentLineData(sku="A", quantity=1),) * 2}, "lines"),
        ({"service_level": "overnight"}, "service_level"),
        ({"key": "clé"}, "key"),
    ],
)
def test_invalid_arguments_are_a_validation_error_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        create(**changes)
    assert field in caught.value.message_dict
    assert not Shipment.objects.exists()


def test_a_lower_case_country_is_stored_in_capitals():
    shipment = create(address=dataclasses.replace(ADDRESS, country="gb"))
    assert shipment.address.country == "GB"


def test_cancel_voids_the_label_once_and_publishes():
    shipment = create()
    cancelled = api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment.id)
    assert cancelled.status == "cancelled"
    assert api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment.id) == cancelled
    [event] = published("shipping.ShipmentCancelled.v1")
    assert event == {"shipment_id": str(shipment.id), "order_id": str(ORDER_ID), "user_id": str(USER_ID)}


def test_a_cancel_key_names_one_shipment():
    first, second = create(key="a:ship"), create(key="b:ship")
    api.shipment_cancel(key="one-key", shipment_id=first.id)
    with pytest.raises(api.ShipmentKeyConflict):
        api.shipment_cancel(key="one-key", shipment_id=second.id)
    assert api.shipment_get(shipment_id=second.id).status == "label_purchased"


@pytest.mark.parametrize(
    "status", ["in_transit", "out_for_delivery", "delivered", "failed_delivery", "returned"]
)
def test_a_shipment_with_the_carrier_cannot_be_cancelled(status):
    shipment = create()
    services.tracking_event_add(
        shipment_id=shipment.id, status=status, occurred_at=timezone.now(), location="", actor="test"
    )
    with pytest.raises(api.ShipmentNotCancellable) as caught:
        api.shipment_cancel(key="late:cancel", shipment_id=shipment.id)
    assert isinstance(caught.value, Conflict)
    assert (caught.value.status, caught.value.requested) == (status, "cancelled")
    assert api.shipment_get(shipment_id=shipment.id).status == status
    assert not published("shipping.ShipmentCancelled.v1")


def test_an_unknown_shipment_is_not_found():
    with pytest.raises(api.ShipmentNotFound):
        api.shipment_get(shipment_id=ORDER_ID)
    with pytest.raises(api.ShipmentNotFound):
        api.shipment_cancel(key="k", shipment_id=ORDER_ID)
    assert api.shipments_for_order(order_id=USER_ID) == ()


# --- an operator's tracking event ---------------------------------------------------------------------


def _staff_event(shipment, status, hours_ago=1.0, location="Depot"):
    return services.tracking_event_add(
        shipment_id=shipment.id,
        status=status,
        occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
        location=location,
        actor="admin:ops@example.com",
    )


def test_an_operators_event_moves_the_status_and_publishes_the_milestone():
    shipment = create()
    assert _staff_event(shipment, "in_transit") == services.APPLIED
    after = api.shipment_get(shipment_id=shipment.id)
    assert after.status == "in_transit"
    [event] = after.tracking_events
    assert (event.status, event.location, event.source) == ("in_transit", "Depot", "staff")
    [milestone] = published("shipping.ShipmentInTransit.v1")
    assert milestone["location"] == "Depot" and milestone["user_id"] == str(USER_ID)
    # Another scan at the same status joins the timeline; nothing more is published.
    assert _staff_event(shipment, "in_transit", hours_ago=0.5, location="Hub") == services.RECORDED
    assert len(api.shipment_get(shipment_id=shipment.id).tracking_events) == 2
    assert len(published("shipping.ShipmentInTransit.v1")) == 1


def test_an_illegal_transition_is_refused_and_nothing_is_recorded():
    shipment = create()
    _staff_event(shipment, "delivered")
    with pytest.raises(api.ShipmentTransitionRefused) as caught:
        _staff_event(shipment, "in_transit", hours_ago=0.5)
    assert isinstance(caught.value, Conflict)
    assert (caught.value.status, caught.value.requested) == ("delivered", "in_transit")
    after = api.shipment_get(shipment_id=shipment.id)
    assert after.status == "delivered" and [e.status for e in after.tracking_events] == ["delivered"]
    assert not published("shipping.ShipmentInTransit.v1")


def test_a_cancelled_shipment_takes_no_tracking_event():
    shipment = create()
    api.shipment_cancel(key="c", shipment_id=shipment.id)
    with pytest.raises(api.ShipmentTransitionRefused):
        _staff_event(shipment, "in_transit")
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "cancelled"}, "status"),
        ({"occurred_at": timezone.now() + dt.timedelta(hours=1)}, "occurred_at"),
        ({"location": "x" * 201}, "location"),
    ],
)
def test_an_operators_event_is_checked(changes, field):
    shipment = create()
    arguments = {"status": "in_transit", "occurred_at": timezone.now(), "location": "", **changes}
    with pytest.raises(ValidationError) as caught:
        services.tracking_event_add(shipment_id=shipment.id, actor="test", **arguments)
    assert field in caught.value.message_dict
