"""Shipping use cases that write: create and cancel shipments, record tracking events.

Create and cancel are idempotent by key and lock the shipment's row for the whole carrier call, so calls
racing on one key take turns and the later ones find the first one's result. Every status change goes
through `_move`, which holds it to the lifecycle table, and publishes its event in the same transaction.

When the carrier does not answer a label purchase, the shipment is committed `created` (the label is in
doubt) and the caller gets the transient ShippingCarrierUnavailable; the next create with the key, or a
cancel, repeats the keyed call, which the carrier answers with what it did the first time.
"""

import datetime as dt
import uuid
from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone

from contexts.shipping import events
from contexts.shipping.carriers import (
    ADDRESS_REJECTED,
    CARRIER_CLOCK_SKEW,
    Carrier,
    CarrierRejected,
    CarrierUnavailable,
    TrackingUpdate,
    carrier,
    occurred_at_problem,
)
from contexts.shipping.data import (
    AddressData,
    AddressRejected,
    ShipmentKeyConflict,
    ShipmentLineData,
    ShipmentNotCancellable,
    ShipmentNotFound,
    ShipmentRejected,
    ShipmentTransitionRefused,
    ShippingCarrierUnavailable,
)
from contexts.shipping.lifecycle import TRACKING_STATUSES, can_move
from contexts.shipping.models import (
    ACTOR_LENGTH,
    CARRIER_CODE_LENGTH,
    KEY_LENGTH,
    LOCATION_LENGTH,
    REFUSAL_MESSAGE_LENGTH,
    ServiceLevel,
    Shipment,
    ShipmentLine,
    ShipmentRefusal,
    Status,
    TrackingEvent,
)
from integration import address as addresses
from integration import bus, keys, webhooks
from integration.arguments import id_check, items_problem, text_check, whole_number_problem
from integration.logging import get_logger
from integration.text import replace_unstorable, text_problem

log = get_logger("contexts.shipping")

# What a webhook delivery did (the webhook's answer says so).
APPLIED = "applied"  # in the timeline, and the shipment's status moved
RECORDED = "recorded"  # in the timeline only: the status is already there or beyond
DUPLICATE = "duplicate"  # this carrier event id was delivered before: nothing changed
IGNORED = "ignored"  # no shipment has this tracking number: logged for operators
OUTCOMES = (APPLIED, RECORDED, DUPLICATE, IGNORED)

MILESTONES: dict[str, type[events.TrackingMilestone]] = {
    Status.IN_TRANSIT: events.ShipmentInTransit,
    Status.OUT_FOR_DELIVERY: events.ShipmentOutForDelivery,
    Status.FAILED_DELIVERY: events.DeliveryFailed,
    Status.DELIVERED: events.ShipmentDelivered,
    Status.RETURNED: events.ShipmentReturned,
}

MAX_LINES = 500
MAX_QUANTITY = 1_000_000
# An operator's tracking event may be this far ahead of our clock (the carrier's may be anything).
CLOCK_SKEW = dt.timedelta(minutes=5)


# --- checks -----------------------------------------------------------------------------------------


def _key_check(key: str) -> None:
    # The key goes to the provider as an Idempotency-Key header: printable ASCII.
    keys.key_check(key, max_length=KEY_LENGTH)


def _address_check(address: AddressData) -> dict[str, str]:
    """The address as stored (its country in capitals), held to the rules the API's address serializer
    applies (integration.address), so what a shipment shows always matches the schema."""
    if not isinstance(address, AddressData):
        raise ValidationError({"address": ["An AddressData."]})
    fields = {name: getattr(address, name) for name in addresses.FIELDS}
    errors = {}
    for name, value in fields.items():
        problem = text_problem(value, addresses.FIELDS[name], required=name not in addresses.OPTIONAL)
        if problem:
            errors[f"address.{name}"] = [problem]
    if "address.country" not in errors:
        fields["country"] = fields["country"].upper()
        if fields["country"] not in addresses.COUNTRY_CODES:
            errors["address.country"] = ["An ISO 3166-1 alpha-2 country code, e.g. DE."]
    if "address.phone" not in errors and fields["phone"]:
        try:
            addresses.validate_e164(fields["phone"])
        except ValidationError as exc:
            errors["address.phone"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return fields


def _lines_check(lines: Sequence[ShipmentLineData]) -> list[tuple[str, int]]:
    problem = items_problem(lines, ShipmentLineData, max_items=MAX_LINES)
    if problem or not lines:
        raise ValidationError({"lines": [problem or f"A shipment carries 1-{MAX_LINES} lines."]})
    errors = {}
    for i, line in enumerate(lines):
        if problem := text_problem(line.sku, 64, required=True):
            errors[f"lines[{i}].sku"] = [problem]
        if problem := whole_number_problem(line.quantity, low=1, high=MAX_QUANTITY):
            errors[f"lines[{i}].quantity"] = [problem]
    skus = [line.sku for line in lines]
    if not errors and len(set(skus)) != len(skus):
        errors["lines"] = ["Each SKU appears on one line."]
    if errors:
        raise ValidationError(errors)
    return [(line.sku, line.quantity) for line in lines]


def _service_level_check(service_level: str) -> None:
    if not isinstance(service_level, str) or service_level not in ServiceLevel.values:
        raise ValidationError({"service_level": [f"One of: {', '.join(ServiceLevel.values)}."]})


def _locked(shipment_id: uuid.UUID) -> Shipment:
    shipment = Shipment.objects.select_for_update(of=("self",)).filter(pk=shipment_id).first()
    if shipment is None:
        raise ShipmentNotFound(shipment_id=shipment_id)
    return shipment


def _carrier_of(shipment: Shipment) -> Carrier:
    adapter = carrier()
    if adapter.name != shipment.carrier:
        raise ImproperlyConfigured(
            f"Shipment {shipment.id} is with carrier {shipment.carrier!r}, but SHIPPING_CARRIER is "
            f"{adapter.name!r}: keep the old carrier configured until its shipments are done."
        )
    return adapter


def _save(shipment: Shipment, **changes) -> None:
    for name, value in changes.items():
        setattr(shipment, name, value)
    shipment.updated_at = timezone.now()
    shipment.save(update_fields=[*changes, "updated_at"])


def _move(shipment: Shipment, target: str, **changes) -> None:
    """Change a locked shipment's status, as the lifecycle table allows, or refuse."""
    if not can_move(shipment.status, target):
        raise ShipmentTransitionRefused(shipment_id=shipment.id, status=shipment.status, requested=target)
    _save(shipment, status=target, **changes)


# --- create -----------------------------------------------------------------------------------------


def shipment_create(
    *,
    key: str,
    order_id: uuid.UUID,
    user_id: uuid.UUID,
    address: AddressData,
    lines: Sequence[ShipmentLineData],
    service_level: str = ServiceLevel.STANDARD,
) -> Shipment:
    _key_check(key)
    id_check(order_id=order_id, user_id=user_id)
    fields = _address_check(address)
    wanted_lines = _lines_check(lines)
    _service_level_check(service_level)
    request = {"order_id": order_id, "user_id": user_id, "address": fields, "service_level": service_level}
    error = None
    with transaction.atomic():
        claimed, created = Shipment.objects.get_or_create(
            key=key, defaults={**request, "carrier": carrier().name}
        )
        if created:
            refusal = ShipmentRefusal.objects.filter(key=key).first()
            if refusal is not None:  # the carrier refused this key's request: the claim rolls back
                raise _refused_again(refusal, request, wanted_lines)
            ShipmentLine.objects.bulk_create(
                ShipmentLine(shipment=claimed, sku=sku, quantity=quantity) for sku, quantity in wanted_lines
            )
        shipment = _locked(claimed.pk)
        stored_lines = list(shipment.lines.order_by("id").values_list("sku", "quantity"))
        if _another_request(shipment, stored_lines, request, wanted_lines):
            raise ShipmentKeyConflict(key=key)
        if shipment.status == Status.CREATED:
            try:
                error = _label_buy(shipment)
            except ShipmentRejected as exc:
                if not created:
                    raise  # kept `created` after the carrier's silence: it stays, and says so again
                _refusal_keep(shipment, exc, request, wanted_lines)
                error = exc
    if error is not None:
        raise error
    return shipment


def _another_request(row, stored_lines: list, request: dict, wanted_lines: list) -> bool:
    """Whether what a key names (a shipment, or a refusal) was asked for by another request."""
    return stored_lines != wanted_lines or any(getattr(row, name) != value for name, value in request.items())


def _refusal_keep(shipment: Shipment, error: ShipmentRejected, request: dict, lines: list) -> None:
    """Keep a new shipment's refusal under its key instead of the shipment, so the key goes on naming
    that request (as a declined payment stays under its key)."""
    shipment.delete()
    ShipmentRefusal.objects.create(
        key=shipment.key,
        **request,
        lines=[list(line) for line in lines],
        carrier=error.carrier,
        carrier_code=error.carrier_code,
        message=error.detail[:REFUSAL_MESSAGE_LENGTH],
    )


def _refused_again(
    refusal: ShipmentRefusal, request: dict, lines: list
) -> ShipmentRejected | ShipmentKeyConflict:
    if _another_request(refusal, [tuple(line) for line in refusal.lines], request, lines):
        return ShipmentKeyConflict(key=refusal.key)
    return _rejection(carrier=refusal.carrier, code=refusal.carrier_code, message=refusal.message)


def _rejection(*, carrier: str, code: str, message: str) -> ShipmentRejected:
    rejected = AddressRejected if code == ADDRESS_REJECTED else ShipmentRejected
    return rejected(carrier=carrier, carrier_code=code, message=message)


def _label_buy(shipment: Shipment) -> ShippingCarrierUnavailable | None:
    """Buy a locked `created` shipment's label. A refusal is raised (the caller's transaction rolls
    back: a new shipment is not kept); the carrier's silence is returned, to raise after commit, with
    the shipment left `created`."""
    adapter = _carrier_of(shipment)
    try:
        label = adapter.create_shipment(
            key=f"{shipment.key}:create",
            address=shipment.address,
            lines=[{"sku": line.sku, "quantity": line.quantity} for line in shipment.lines.order_by("id")],
            service_level=shipment.service_level,
        )
    except CarrierRejected as exc:
        # In the carrier's words, as much of them as the refusal's record holds.
        raise _rejection(
            carrier=adapter.name,
            code=replace_unstorable(exc.code)[:CARRIER_CODE_LENGTH],
            message=replace_unstorable(exc.message)[:REFUSAL_MESSAGE_LENGTH],
        ) from None
    except CarrierUnavailable as exc:
        log.warning("shipping.label_in_doubt", shipment_id=str(shipment.id), reason=exc.reason)
        return ShippingCarrierUnavailable(shipment_id=shipment.id, operation="create", reason=exc.reason)
    _move(
        shipment,
        Status.LABEL_PURCHASED,
        carrier_reference=label.reference,
        tracking_number=label.tracking_number,
        estimated_delivery=label.estimated_delivery,
    )
    bus.publish(
        events.ShipmentCreated(
            shipment_id=shipment.id,
            order_id=shipment.order_id,
            user_id=shipment.user_id,
            carrier=shipment.carrier,
            service_level=shipment.service_level,
            tracking_number=shipment.tracking_number,
            estimated_delivery=shipment.estimated_delivery,
        )
    )
    return None


# --- cancel -----------------------------------------------------------------------------------------


def shipment_cancel(*, key: str, shipment_id: uuid.UUID) -> Shipment:
    """Cancel a shipment not yet with the carrier (`created` or `label_purchased`), voiding its label;
    a no-op for one already cancelled. ShipmentNotCancellable from `in_transit` on."""
    _key_check(key)
    id_check(shipment_id=shipment_id)
    with transaction.atomic():
        shipment = _locked(shipment_id)
        if Shipment.objects.filter(cancel_key=key).exclude(pk=shipment.pk).exists():
            raise ShipmentKeyConflict(key=key)
        if shipment.status == Status.CANCELLED:
            return shipment
        if not can_move(shipment.status, Status.CANCELLED):
            raise ShipmentNotCancellable(
                shipment_id=shipment.id, status=shipment.status, requested=Status.CANCELLED
            )
        if shipment.status == Status.CREATED:
            # Whether the carrier bought the label is unknown: the keyed repeat of the purchase says.
            try:
                error = _label_buy(shipment)
            except ShipmentRejected:
                error = None  # nothing stands at the carrier
            if error is not None:
                raise error
        if shipment.status == Status.LABEL_PURCHASED:
            _label_void(shipment, key)
        _move(shipment, Status.CANCELLED, cancel_key=key)
        bus.publish(
            events.ShipmentCancelled(
                shipment_id=shipment.id, order_id=shipment.order_id, user_id=shipment.user_id
            )
        )
    return shipment


def _label_void(shipment: Shipment, key: str) -> None:
    adapter = _carrier_of(shipment)
    try:
        adapter.cancel_shipment(key=f"{key}:cancel", reference=shipment.carrier_reference)
    except CarrierRejected as exc:
        # The carrier has it already (scanned, handed over) though no webhook told us yet.
        raise ShipmentNotCancellable(
            shipment_id=shipment.id,
            status=shipment.status,
            requested=Status.CANCELLED,
            message=f"The carrier refused to cancel ({exc.code}).",
        ) from None
    except CarrierUnavailable as exc:
        # Raised inside the transaction: nothing changes, and a retry with the same key repeats the
        # keyed call, which the carrier answers without acting twice.
        raise ShippingCarrierUnavailable(
            shipment_id=shipment.id, operation="cancel", reason=exc.reason
        ) from None


# --- tracking ---------------------------------------------------------------------------------------


def tracking_update_receive(*, carrier_name: str, update: TrackingUpdate) -> str:
    """Record a carrier's tracking update (a verified webhook delivery). Returns the outcome: APPLIED,
    RECORDED, DUPLICATE or IGNORED. Refuses (ValidationError) only a time outside occurred_at_problem's
    window, which the carriers' parse_tracking_update refuses first; an update the lifecycle does not
    allow (late, or for a cancelled shipment) goes into the timeline at its time and the status stays."""
    if problem := occurred_at_problem(update.occurred_at, skew=CARRIER_CLOCK_SKEW):
        raise ValidationError({"occurred_at": [problem]})
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .filter(carrier=carrier_name, tracking_number=update.tracking_number)
            .first()
        )
        if shipment is None:
            log.warning(
                "shipping.webhook_unknown_tracking_number",
                carrier=carrier_name,
                tracking_number=update.tracking_number,
                event_id=update.event_id,
                status=update.status,
            )
            return IGNORED
        first = webhooks.first_delivery(
            source=f"shipping.{carrier_name}", event_id=update.event_id, event_type=update.status
        )
        if not first or TrackingEvent.objects.filter(carrier=carrier_name, event_id=update.event_id).exists():
            return DUPLICATE
        return _track(
            shipment,
            status=update.status,
            occurred_at=update.occurred_at,
            location=update.location,
            event_id=update.event_id,
            source=TrackingEvent.Source.CARRIER,
            strict=False,
        )


def tracking_event_add(
    *, shipment_id: uuid.UUID, status: str, occurred_at: dt.datetime, location: str, actor: str
) -> str:
    """An operator's tracking event (a scan the carrier never reported, a phone call). Held to the
    lifecycle: one that would move the status where it may not go is ShipmentTransitionRefused, and
    nothing is recorded. Another event at the current status only joins the timeline."""
    id_check(shipment_id=shipment_id)
    if not isinstance(status, str) or status not in TRACKING_STATUSES:
        raise ValidationError({"status": [f"One of: {', '.join(TRACKING_STATUSES)}."]})
    if problem := occurred_at_problem(occurred_at, skew=CLOCK_SKEW):
        raise ValidationError({"occurred_at": [problem]})
    text_check("location", location, LOCATION_LENGTH, required=False)
    text_check("actor", actor, ACTOR_LENGTH, required=False)
    with transaction.atomic():
        shipment = _locked(shipment_id)
        return _track(
            shipment,
            status=status,
            occurred_at=occurred_at,
            location=location,
            event_id=f"staff-{uuid.uuid4()}",
            source=TrackingEvent.Source.STAFF,
            actor=actor,
            strict=True,
        )


def _track(
    shipment: Shipment,
    *,
    status: str,
    occurred_at: dt.datetime,
    location: str,
    event_id: str,
    source: str,
    strict: bool,
    actor: str = "",
) -> str:
    """Put a tracking event into a locked shipment's timeline and move its status if the table allows.
    `strict` (an operator): a status the table does not allow is refused instead of only recorded."""
    moves = can_move(shipment.status, status)
    if strict and status != shipment.status and not moves:
        raise ShipmentTransitionRefused(shipment_id=shipment.id, status=shipment.status, requested=status)
    TrackingEvent.objects.create(
        shipment=shipment,
        carrier=shipment.carrier,
        event_id=event_id,
        status=status,
        location=location,
        occurred_at=occurred_at,
        source=source,
        actor=actor,
    )
    if not moves:
        if status != shipment.status:
            log.info(
                "shipping.tracking_event_kept_status",
                shipment_id=str(shipment.id),
                status=shipment.status,
                reported=status,
                event_id=event_id,
            )
        return RECORDED
    _move(shipment, status)
    bus.publish(
        MILESTONES[status](
            shipment_id=shipment.id,
            order_id=shipment.order_id,
            user_id=shipment.user_id,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            location=location,
            occurred_at=occurred_at,
        )
    )
    return APPLIED
