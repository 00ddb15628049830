"""The shipping api refuses hostile arguments with a ValidationError naming the field (or, over the wire,
the codec's refusal) before it keeps anything or calls the carrier: never an AttributeError, a database
error, or a key conflict the caller did not cause. A key the carrier refused keeps naming that request."""

import dataclasses
import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contexts.shipping import api, services
from contexts.shipping.models import Shipment, ShipmentRefusal, TrackingEvent
from integration.codec import CodecError
from tests.shipping.conftest import ADDRESS, LINES, ORDER_ID, USER_ID, create

pytestmark = pytest.mark.django_db

LINE = api.ShipmentLineData
REFUSED = dataclasses.replace(ADDRESS, postal_code="00000")


@pytest.fixture(params=["in-process", "over-the-codec"])
def transport(request, settings):
    """Each case runs as an in-process call (the services' own checks) and as a call whose arguments
    cross the JSON codec, as a remote call's do (the interface's checks)."""
    settings.SERVICES = {**settings.SERVICES, "CODEC_ROUND_TRIP": request.param == "over-the-codec"}
    return request.param


def _refused(transport) -> tuple[type[Exception], ...]:
    # In process, the services' own ValidationError; over the wire the codec may refuse first.
    return (ValidationError,) if transport == "in-process" else (ValidationError, CodecError)


# On the wire a UUID is its string, an address and a line are objects: well-formed there.
WELL_FORMED_ON_THE_WIRE = ("order_id-as-text", "address-as-dict", "line-as-dict")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"address": dataclasses.asdict(ADDRESS)}, "address", id="address-as-dict"),
        pytest.param({"address": None}, "address", id="address-none"),
        pytest.param({"address": "12 St James's Square"}, "address", id="address-as-text"),
        pytest.param({"lines": [{"sku": "MUG-1", "quantity": 1}]}, "lines", id="line-as-dict"),
        pytest.param({"lines": "MUG-1"}, "lines", id="lines-as-text"),
        pytest.param({"lines": None}, "lines", id="lines-none"),
        pytest.param({"lines": (None,)}, "lines", id="line-none"),
        pytest.param({"lines": (LINE(sku=7, quantity=1),)}, "lines[0].sku", id="sku-a-number"),
        pytest.param({"lines": (LINE(sku="MUG\x00", quantity=1),)}, "lines[0].sku", id="sku-nul"),
        pytest.param({"lines": (LINE(sku="MUG-1", quantity=True),)}, "lines[0].quantity", id="quantity-bool"),
        pytest.param({"lines": (LINE(sku="MUG-1", quantity=1.0),)}, "lines[0].quantity", id="quantity-float"),
        pytest.param({"user_id": None}, "user_id", id="user_id-none"),
        pytest.param({"order_id": 5}, "order_id", id="order_id-an-int"),
        pytest.param({"order_id": str(ORDER_ID)}, "order_id", id="order_id-as-text"),
        pytest.param({"service_level": None}, "service_level", id="service_level-none"),
        pytest.param({"service_level": ["standard"]}, "service_level", id="service_level-a-list"),
        pytest.param({"key": None}, "key", id="key-none"),
    ],
)
def test_a_hostile_create_is_refused_naming_the_field_before_anything_is_kept(
    changes, field, transport, request
):
    if transport == "over-the-codec" and any(
        name in request.node.callspec.id for name in WELL_FORMED_ON_THE_WIRE
    ):
        pytest.skip("well-formed on the wire")
    with pytest.raises(_refused(transport)) as caught:
        create(**changes)
    if isinstance(caught.value, ValidationError):
        assert field in caught.value.message_dict, caught.value.message_dict
    assert not Shipment.objects.exists() and not ShipmentRefusal.objects.exists()


@pytest.mark.parametrize("shipment_id", ["not-a-uuid", None, 5], ids=["text", "none", "int"])
def test_reads_and_cancels_refuse_an_id_that_is_no_uuid(shipment_id, transport, shipment):
    for call in (
        lambda: api.shipment_get(shipment_id=shipment_id),
        lambda: api.shipment_cancel(key="c:cancel", shipment_id=shipment_id),
        lambda: api.shipments_for_order(order_id=shipment_id),
    ):
        with pytest.raises(_refused(transport)) as caught:
            call()
        if isinstance(caught.value, ValidationError):
            assert {"shipment_id", "order_id"} & set(caught.value.message_dict)
    assert api.shipment_get(shipment_id=shipment.id).status == "label_purchased"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_at": "2025-03-01T09:00:00Z"}, "occurred_at"),
        ({"occurred_at": dt.datetime(2025, 3, 1, 9, 0)}, "occurred_at"),  # no time zone
        ({"occurred_at": dt.datetime(1, 1, 1, tzinfo=dt.UTC)}, "occurred_at"),
        ({"status": ["in_transit"]}, "status"),
        ({"location": None}, "location"),
        ({"actor": None}, "actor"),
        ({"actor": "x" * 201}, "actor"),
        ({"shipment_id": "not-a-uuid"}, "shipment_id"),
    ],
)
def test_an_operators_event_with_hostile_arguments_is_refused(changes, field, shipment):
    arguments = {
        "shipment_id": shipment.id,
        "status": "in_transit",
        "occurred_at": timezone.now(),
        "location": "",
        "actor": "admin:ops",
        **changes,
    }
    with pytest.raises(ValidationError) as caught:
        services.tracking_event_add(**arguments)
    assert field in caught.value.message_dict
    assert not TrackingEvent.objects.exists()


# --- a refused key names its request -------------------------------------------------------------------


def test_a_key_the_carrier_refused_names_that_request_ever_after(transport):
    with pytest.raises(api.AddressRejected) as first:
        create(key="saga-9:ship", address=REFUSED)
    # The same request is refused again, the same way, without a shipment being kept.
    with pytest.raises(api.AddressRejected) as again:
        create(key="saga-9:ship", address=REFUSED)
    assert again.value == first.value
    # Another request under the key is a conflict, not a second chance.
    for changes in (
        {"address": ADDRESS},
        {"lines": LINES[:1], "address": REFUSED},
        {"user_id": uuid.uuid4()},
    ):
        with pytest.raises(api.ShipmentKeyConflict):
            create(key="saga-9:ship", **{"address": REFUSED, **changes})
    assert not Shipment.objects.exists()
    refusal = ShipmentRefusal.objects.get()
    assert (refusal.key, refusal.order_id, refusal.user_id, refusal.carrier_code) == (
        "saga-9:ship",
        ORDER_ID,
        USER_ID,
        "address_rejected",
    )
    # Another key may ask for the good address.
    assert create(key="saga-10:ship").status == "label_purchased"
