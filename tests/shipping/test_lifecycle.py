"""The transition table: what it allows, and the property that makes webhooks order-independent."""

import itertools

from contexts.shipping.lifecycle import TRACKING_STATUSES, TRANSITIONS, can_move
from contexts.shipping.models import Status


def test_every_status_has_a_row_and_leads_only_to_statuses():
    assert set(TRANSITIONS) == set(Status.values)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status.values)
    assert not any(can_move(status, status) for status in Status.values)


def test_a_delivered_shipment_never_goes_back_and_the_end_states_go_nowhere():
    for earlier in (Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.FAILED_DELIVERY):
        assert not can_move(Status.DELIVERED, earlier)
    assert TRANSITIONS[Status.RETURNED] == TRANSITIONS[Status.CANCELLED] == frozenset()


def test_only_a_shipment_not_yet_with_the_carrier_can_be_cancelled():
    cancellable = {status for status in Status.values if can_move(status, Status.CANCELLED)}
    assert cancellable == {Status.CREATED, Status.LABEL_PURCHASED}


def test_carrier_statuses_follow_each_other_only_forward_so_any_arrival_order_ends_the_same():
    # Each carrier status may be followed by exactly the later ones: applying "move if the table allows"
    # to any set of updates, in any order, ends at the latest of them.
    for i, status in enumerate(TRACKING_STATUSES):
        assert TRANSITIONS[status] == frozenset(TRACKING_STATUSES[i + 1 :])
    assert TRANSITIONS[Status.LABEL_PURCHASED] >= set(TRACKING_STATUSES)
    for updates in itertools.combinations(TRACKING_STATUSES, 3):
        ends = set()
        for order in itertools.permutations(updates):
            status = Status.LABEL_PURCHASED
            for reported in order:
                if can_move(status, reported):
                    status = reported
            ends.add(status)
        assert ends == {max(updates, key=TRACKING_STATUSES.index)}, updates
