"""The same contract tests of each context's api, run in-process and over HTTP (the context extracted to
a gunicorn of this project): identical results, and identical errors (type, detail and fields).

Only settings differ between the two runs (CONTEXTS_REMOTE); the calls are the callers' own
(`from contexts.payments import api`). In the HTTP run every read is also made in-process on the same
data, and the two outcomes must be equal.
"""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from contexts.catalog import api as catalog
from contexts.payments import api as payments
from contexts.shipping import api as shipping
from contexts.users import api as users
from integration import services
from integration.errors import ContextError
from integration.services.remote import Http
from tests.catalog.conftest import make_product
from tests.payments.conftest import ORDER_ID, USER_ID, authorize
from tests.shipping.conftest import ADDRESS, create
from tests.users.conftest import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

EXTRACTED = ("catalog", "payments", "shipping", "users")


@pytest.fixture(params=["in-process", "http"])
def mode(request, settings):
    if request.param == "http":
        server = request.getfixturevalue("services_server")
        settings.CONTEXTS_REMOTE = {context: server.url("") for context in EXTRACTED}
        assert isinstance(services.transport_for("payments"), Http)
    else:
        settings.CONTEXTS_REMOTE = {}
    return request.param


def outcome(call):
    """("result", value) or ("raised", type, detail, fields): what a caller can observe of a call."""
    try:
        return ("result", call())
    except ContextError as exc:
        return ("raised", type(exc), exc.detail, exc.fields)
    except ValidationError as exc:
        return ("raised", ValidationError, getattr(exc, "message_dict", None) or exc.messages)


def same_both_ways(call):
    """The outcome of `call` in the current mode, checked equal to the same call made in-process."""
    observed = outcome(call)
    with override_settings(CONTEXTS_REMOTE={}):
        assert outcome(call) == observed
    return observed


def result_both_ways(call):
    """The result of `call`, checked equal to the same call made in-process."""
    kind, *value = same_both_ways(call)
    assert kind == "result", value
    return value[0]


# --- catalog ------------------------------------------------------------------------------------------


def test_catalog_reads(mode):
    make_product("MUG-1", price="12.50", stock=5, attributes={"colour": "blue"})
    make_product("TEA-1", price="4.00", stock=0)

    product = result_both_ways(lambda: catalog.product_get(sku="MUG-1"))
    assert isinstance(product, catalog.ProductData)
    assert (product.sku, product.price, product.currency) == ("MUG-1", Decimal("12.50"), "EUR")
    assert isinstance(product.price, Decimal) and product.attributes == {"colour": "blue"}

    prices = result_both_ways(lambda: catalog.products_price(skus=["TEA-1", "MUG-1"]))
    assert {p.sku: p.unit_price for p in prices} == {"MUG-1": Decimal("12.50"), "TEA-1": Decimal("4.00")}

    assert same_both_ways(lambda: catalog.stock_level(sku="MUG-1")) == (
        "result",
        catalog.StockLevel(sku="MUG-1", on_hand=5, reserved=0, available=5),
    )
    assert same_both_ways(lambda: catalog.product_get(sku="NOPE-1"))[:2] == (
        "raised",
        catalog.ProductNotFound,
    )


def test_catalog_reserve_commit_and_its_errors(mode):
    make_product("MUG-1", stock=3)
    lines = [catalog.StockLine(sku="MUG-1", quantity=2)]

    reservation = catalog.stock_reserve(key="saga-1:reserve", lines=lines, ttl=600)
    assert (reservation.key, reservation.status, reservation.lines) == (
        "saga-1:reserve",
        "active",
        (catalog.StockLine(sku="MUG-1", quantity=2),),
    )
    assert reservation.expires_at.tzinfo is not None
    # The same key again: the same reservation, no second hold.
    assert catalog.stock_reserve(key="saga-1:reserve", lines=lines, ttl=600) == reservation
    assert catalog.stock_level(sku="MUG-1").reserved == 2

    with pytest.raises(catalog.OutOfStock) as short:
        catalog.stock_reserve(key="saga-2:reserve", lines=lines, ttl=600)
    assert short.value.skus == ("MUG-1",)

    assert catalog.stock_commit(key="saga-1:reserve").status == "committed"
    with pytest.raises(catalog.ReservationCommitted) as committed:
        catalog.stock_release(key="saga-1:reserve")
    assert committed.value.key == "saga-1:reserve"
    with pytest.raises(catalog.ReservationNotFound) as missing:
        catalog.stock_extend(key="saga-9:reserve", ttl=60)
    assert missing.value.key == "saga-9:reserve"
    assert same_both_ways(lambda: catalog.stock_level(sku="MUG-1")) == (
        "result",
        catalog.StockLevel(sku="MUG-1", on_hand=1, reserved=0, available=1),
    )


# --- payments -----------------------------------------------------------------------------------------


def test_payments_authorize_capture_refund_and_reads(mode):
    payment = authorize(key="saga-1:authorize", amount="100.00")
    assert (payment.status, payment.amount, payment.provider) == ("authorized", Decimal("100.00"), "sandbox")
    assert authorize(key="saga-1:authorize", amount="100.00") == payment  # replayed by key

    captured = payments.payment_capture(key="saga-1:capture", payment_id=payment.id)
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("100.00"))
    refund = payments.payment_refund(
        key="r-1", payment_id=payment.id, amount=Decimal("30.00"), reason="damaged"
    )
    assert (refund.amount, refund.status, refund.currency) == (Decimal("30.00"), "succeeded", "EUR")

    with pytest.raises(payments.RefundExceedsCaptured) as exceeds:
        payments.payment_refund(key="r-2", payment_id=payment.id, amount=Decimal("80.00"), reason="x")
    assert exceeds.value.remaining == Decimal("70.00") and exceeds.value.payment_id == payment.id
    with pytest.raises(payments.PaymentStateConflict) as conflict:
        payments.payment_void(key="v-1", payment_id=payment.id)
    assert (conflict.value.current_status, conflict.value.operation) == ("partially_refunded", "void")

    got = result_both_ways(lambda: payments.payment_get(payment_id=payment.id))
    assert got.refunded_amount == Decimal("30.00")
    listed = result_both_ways(lambda: payments.payments_for_order(order_id=ORDER_ID))
    assert [p.id for p in listed] == [payment.id]
    invoice = result_both_ways(lambda: payments.payment_invoice(payment_id=payment.id))
    assert invoice.total == Decimal("100.00") and invoice.number.startswith("INV-")
    unknown = uuid.UUID(int=7)
    assert same_both_ways(lambda: payments.payment_get(payment_id=unknown)) == (
        "raised",
        payments.PaymentNotFound,
        *outcome(lambda: payments.payment_get(payment_id=unknown))[2:],
    )


def test_payments_declines_and_provider_failures_cross_as_themselves(mode):
    with pytest.raises(payments.PaymentDeclined) as declined:
        authorize(key="saga-2:authorize", method="pm_sandbox_declined")
    assert declined.value.decline_code == "card_declined"
    assert isinstance(declined.value.payment_id, uuid.UUID)
    with pytest.raises(payments.PaymentDeclined) as again:
        authorize(key="saga-2:authorize", method="pm_sandbox_declined")
    assert again.value == declined.value  # type, detail and every field

    with pytest.raises(payments.InvalidPaymentMethod) as invalid:
        authorize(key="saga-3:authorize", method="pm_card_visa")
    assert invalid.value.decline_code == "invalid_payment_method"

    # The provider is down: payments' own transient error, not a transport failure.
    with pytest.raises(payments.PaymentProviderUnavailable) as down:
        authorize(key="saga-4:authorize", method="pm_sandbox_error")
    assert (down.value.operation, type(down.value.payment_id)) == ("authorize", uuid.UUID)

    with pytest.raises(payments.PaymentKeyConflict) as reused:
        authorize(key="saga-2:authorize", amount="90.00")
    assert reused.value.key == "saga-2:authorize"

    with pytest.raises(ValidationError) as bad:
        payments.payment_authorize(
            key="saga-5:authorize",
            order_id=ORDER_ID,
            user_id=USER_ID,
            amount=Decimal("-1.00"),
            currency="EUR",
            payment_method="pm_sandbox_ok",
        )
    assert "amount" in bad.value.message_dict


# --- shipping -----------------------------------------------------------------------------------------


def test_shipping_create_cancel_reads_and_errors(mode):
    shipment = create(key="saga-1:ship")
    assert (shipment.status, shipment.address, shipment.lines[0].sku) == (
        "label_purchased",
        ADDRESS,
        "MUG-1",
    )
    assert shipment.tracking_number and shipment.estimated_delivery is not None
    assert create(key="saga-1:ship") == shipment

    got = result_both_ways(lambda: shipping.shipment_get(shipment_id=shipment.id))
    assert got == shipment
    assert same_both_ways(lambda: shipping.shipments_for_order(order_id=shipment.order_id)) == (
        "result",
        (shipment,),
    )
    cancelled = shipping.shipment_cancel(key="saga-1:cancel", shipment_id=shipment.id)
    assert cancelled.status == "cancelled"

    rejected_address = shipping.AddressData(**{**ADDRESS.__dict__, "postal_code": "00000"})
    with pytest.raises(shipping.AddressRejected) as rejected:
        create(key="saga-2:ship", order_id=uuid.UUID(int=2), address=rejected_address)
    assert rejected.value.carrier == "sandbox"
    with pytest.raises(shipping.ShipmentKeyConflict):
        create(key="saga-1:ship", order_id=uuid.UUID(int=3))
    missing = same_both_ways(lambda: shipping.shipment_get(shipment_id=uuid.UUID(int=5)))
    assert missing[:2] == ("raised", shipping.ShipmentNotFound)
    assert missing[3] == {"shipment_id": uuid.UUID(int=5)}


# --- users --------------------------------------------------------------------------------------------


def test_users_reads_and_not_found(mode):
    user = UserFactory(first_name="Ada", last_name="Lovelace", phone="+442071234567")

    dto = result_both_ways(lambda: users.user_get(user_id=user.id))
    assert (dto.id, dto.email, dto.roles, dto.is_active) == (user.id, user.email, ("customer",), True)
    assert dto.date_joined.tzinfo is not None
    contact = result_both_ways(lambda: users.user_contact(user_id=user.id))
    assert (contact.email, contact.full_name) == (user.email, "Ada Lovelace")
    assert same_both_ways(lambda: users.user_is_active(user_id=user.id)) == ("result", True)
    assert same_both_ways(lambda: users.user_has_role(user_id=user.id, role="staff")) == ("result", False)
    assert same_both_ways(lambda: users.user_tokens_valid_after(user_id=user.id)) == ("result", None)

    missing = same_both_ways(lambda: users.user_get(user_id=uuid.UUID(int=9)))
    assert missing[:2] == ("raised", users.UserNotFound)
