"""A shipment's lifecycle: the one table of which status may follow which.

Every status change goes through it (services._move): buying the label, cancelling, a carrier's
tracking webhook, an operator's tracking event. What differs is how a change it refuses is treated:

- asked for by an operator or a caller of the api (cancel, an admin tracking event): refused, a
  ShipmentTransitionRefused (a Conflict: 409 at the edge), and nothing changes;
- reported by a carrier's webhook: the scan goes into the timeline at its time, the status stays.

The carrier statuses are in one forward order, and each may be followed by any later one (carriers skip
scans: a parcel can be `delivered` with no `out_for_delivery` ever sent). So applying a set of carrier
updates in any order ends in the same status, the latest in that order, and the status never goes
back: a late `in_transit` after `delivered` changes nothing. One consequence: after `failed_delivery`,
the next attempt's `out_for_delivery` scan is in the timeline while the status stays `failed_delivery`
until the parcel is delivered or returned. `delivered -> returned` is a parcel left at a pickup point,
never collected, and sent back.
"""

from contexts.shipping.models import Status

S = Status

# The carrier statuses, in their forward order.
TRACKING_STATUSES: tuple[str, ...] = (
    S.IN_TRANSIT,
    S.OUT_FOR_DELIVERY,
    S.FAILED_DELIVERY,
    S.DELIVERED,
    S.RETURNED,
)

# fmt: off
TRANSITIONS: dict[str, frozenset[str]] = {
    # from                to
    S.CREATED:          frozenset({S.LABEL_PURCHASED, S.CANCELLED}),
    S.LABEL_PURCHASED:  frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.FAILED_DELIVERY, S.DELIVERED,
                                   S.RETURNED, S.CANCELLED}),
    S.IN_TRANSIT:       frozenset({S.OUT_FOR_DELIVERY, S.FAILED_DELIVERY, S.DELIVERED, S.RETURNED}),
    S.OUT_FOR_DELIVERY: frozenset({S.FAILED_DELIVERY, S.DELIVERED, S.RETURNED}),
    S.FAILED_DELIVERY:  frozenset({S.DELIVERED, S.RETURNED}),
    S.DELIVERED:        frozenset({S.RETURNED}),
    S.RETURNED:         frozenset(),
    S.CANCELLED:        frozenset(),
}
# fmt: on


def can_move(current: str, target: str) -> bool:
    """Whether a shipment in `current` may go to `target` (a status never follows itself)."""
    return target in TRANSITIONS[current]
