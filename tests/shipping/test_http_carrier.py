"""The HTTP carrier adapter through the resilient client, against the stub server playing a carrier:
real sockets on loopback, the breaker in real Redis."""

import dataclasses
import re

import pytest

from contexts.shipping import api
from contexts.shipping.models import Shipment
from integration import resilience
from integration.resilience.stub import CarrierStub, StubServer
from tests.shipping.conftest import ADDRESS, create, deliver, update

pytestmark = pytest.mark.django_db

HTTP_CARRIER = "contexts.shipping.carriers.http.HttpCarrier"


@pytest.fixture
def carrier(settings):
    with StubServer(CarrierStub()) as stub:
        entry = {
            "base_url": stub.url,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_attempts": 3,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "breaker": {"fail_max": 50, "reset_timeout": 1.0},
        }
        settings.RESILIENCE = {
            "DEFAULTS": settings.RESILIENCE["DEFAULTS"],
            "DEPENDENCIES": {"shipping-carrier": entry},
        }
        settings.SHIPPING_CARRIER = HTTP_CARRIER
        settings.SHIPPING_HTTP_CARRIER_NAME = "acme"
        settings.SHIPPING_HTTP_CARRIER_API_KEY = "sk_test_123"
        yield stub.app
    resilience.forget_all()


def test_a_label_is_bought_with_the_key_and_the_api_key(carrier):
    shipment = create()
    assert shipment.status == "label_purchased" and shipment.carrier == "acme"
    assert re.fullmatch(r"STB[0-9]{12}", shipment.tracking_number)
    assert carrier.calls_for("saga-1:ship:create") == 1
    # The same key again: our own record answers, the carrier is not called.
    assert create() == shipment
    assert carrier.calls_for("saga-1:ship:create") == 1


def test_the_carriers_address_refusal_is_address_rejected(carrier):
    with pytest.raises(api.AddressRejected) as caught:
        create(address=dataclasses.replace(ADDRESS, postal_code="00000"))
    assert (caught.value.carrier, caught.value.carrier_code) == ("acme", "address_rejected")
    assert not Shipment.objects.exists()


def test_a_dropped_answer_is_retried_with_the_key_and_buys_one_label(carrier):
    carrier.add_fault(drop="after", path="/shipments")
    shipment = create()
    assert shipment.status == "label_purchased"
    assert carrier.calls_for("saga-1:ship:create") == 2
    assert carrier.effects_for("saga-1:ship:create") == 1
    assert len(carrier.shipments) == 1


def test_a_carrier_that_does_not_answer_leaves_the_shipment_created_until_a_retry(carrier):
    carrier.add_fault(status=503, times=3, path="/shipments")
    with pytest.raises(api.ShippingCarrierUnavailable) as caught:
        create()
    assert caught.value.operation == "create" and caught.value.reason == "status"
    stored = Shipment.objects.get()
    assert (stored.status, stored.tracking_number) == ("created", "")
    # The saga retries with the same key: the label is bought now, once.
    shipment = create()
    assert shipment.status == "label_purchased"
    assert carrier.effects_for("saga-1:ship:create") == 1


def test_cancelling_a_shipment_whose_label_is_in_doubt_settles_it_first(carrier):
    carrier.add_fault(drop="after", times=3, path="/shipments")
    with pytest.raises(api.ShippingCarrierUnavailable):
        create()
    [bought] = carrier.shipments.values()  # the carrier did act; the answer was lost
    shipment_id = Shipment.objects.get().id
    cancelled = api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment_id)
    assert cancelled.status == "cancelled" and cancelled.tracking_number == bought["tracking_number"]
    assert bought["status"] == "cancelled"  # voided at the carrier, not left standing


def test_cancel_voids_the_label_at_the_carrier(carrier):
    shipment = create()
    api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment.id)
    [label] = carrier.shipments.values()
    assert label["status"] == "cancelled"
    assert carrier.calls_for("saga-1:cancel-ship:cancel") == 1


def test_a_cancel_the_carrier_refuses_is_not_cancellable_and_changes_nothing(carrier):
    shipment = create()
    [reference] = carrier.shipments
    carrier.hand_over(reference)  # scanned at the depot; no webhook has told us yet
    with pytest.raises(api.ShipmentNotCancellable):
        api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment.id)
    assert api.shipment_get(shipment_id=shipment.id).status == "label_purchased"


def test_a_cancel_the_carrier_does_not_answer_is_transient_and_changes_nothing(carrier):
    shipment = create()
    carrier.add_fault(status=503, times=3, path="/shipments/")
    with pytest.raises(api.ShippingCarrierUnavailable) as caught:
        api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment.id)
    assert caught.value.operation == "cancel"
    assert api.shipment_get(shipment_id=shipment.id).status == "label_purchased"
    assert api.shipment_cancel(key="saga-1:cancel-ship", shipment_id=shipment.id).status == "cancelled"


def test_its_webhooks_arrive_under_its_name(carrier):
    shipment = create()
    body = update(shipment.tracking_number, "acme-1", "in_transit", 1)
    response = deliver(body, path="/api/v1/shipping/webhooks/acme/")
    assert response.status_code == 200 and response.json() == {"outcome": "applied"}
    assert deliver(body).status_code == 404  # sandbox is not this deployment's carrier
