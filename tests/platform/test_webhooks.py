"""The shared webhook signature (Shop-Signature) and delivery record, integration.webhooks."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from integration import webhooks

BODY = b'{"id": "evt_1", "type": "payment.captured", "created": 1, "data": {}}'
NOW = 1_800_000_000


def test_a_signature_made_with_the_secret_verifies_and_returns_its_timestamp():
    header = webhooks.sign(BODY, secret="s3cret", timestamp=NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert webhooks.verify(header=header, body=BODY, secrets=["s3cret"], now=NOW) == NOW


@pytest.mark.parametrize(
    "header, body, secrets, now, reason",
    [
        (None, BODY, ["s3cret"], NOW, "missing"),
        ("", BODY, ["s3cret"], NOW, "missing"),
        ("v1=abc", BODY, ["s3cret"], NOW, "malformed"),
        (f"t={NOW}", BODY, ["s3cret"], NOW, "malformed"),
        ("t=-5,v1=abc", BODY, ["s3cret"], NOW, "malformed"),
        ("t=\uff11\uff12,v1=abc", BODY, ["s3cret"], NOW, "malformed"),  # non-ASCII digits
        ("sign", BODY + b" ", ["s3cret"], NOW, "mismatch"),  # tampered body
        ("sign", BODY, ["other"], NOW, "mismatch"),  # wrong secret
        ("sign", BODY, ["s3cret"], NOW + 301, "stale"),  # 301 s old
        ("sign", BODY, ["s3cret"], NOW - 301, "stale"),  # 301 s in the future
        ("sign", BODY, [], NOW, "unconfigured"),
    ],
)
def test_a_delivery_that_does_not_prove_its_sender_is_refused_with_the_reason(
    header, body, secrets, now, reason
):
    if header == "sign":
        header = webhooks.sign(BODY, secret="s3cret", timestamp=NOW)
    with pytest.raises(webhooks.SignatureInvalid) as caught:
        webhooks.verify(header=header, body=body, secrets=secrets, now=now)
    assert caught.value.reason == reason


def test_the_tolerance_is_300_seconds_inclusive():
    header = webhooks.sign(BODY, secret="s3cret", timestamp=NOW)
    assert webhooks.verify(header=header, body=BODY, secrets=["s3cret"], now=NOW + 300) == NOW


def test_during_a_rotation_either_secret_verifies_and_several_v1_values_are_accepted():
    # The receiver holds the new and the old secret; the sender may sign with either, or both.
    receiver = webhooks.secret_list("new-secret, old-secret")
    assert receiver == ("new-secret", "old-secret")
    for header in (
        webhooks.sign(BODY, secret="old-secret", timestamp=NOW),
        webhooks.sign(BODY, secret="new-secret", timestamp=NOW),
        webhooks.sign(BODY, secret=["unknown", "new-secret"], timestamp=NOW),
    ):
        assert webhooks.verify(header=header, body=BODY, secrets=receiver, now=NOW) == NOW
    # Once the old one is dropped, what it signs no longer verifies.
    with pytest.raises(webhooks.SignatureInvalid):
        webhooks.verify(
            header=webhooks.sign(BODY, secret="old-secret", timestamp=NOW),
            body=BODY,
            secrets=["new-secret"],
            now=NOW,
        )


def test_now_defaults_to_the_clock():
    header = webhooks.sign(BODY, secret="s3cret")
    assert abs(webhooks.verify(header=header, body=BODY, secrets=["s3cret"]) - time.time()) < 5


@pytest.mark.django_db
def test_a_delivery_is_first_once_per_source_and_event_id():
    assert webhooks.first_delivery(source="payments.sandbox", event_id="evt_1", event_type="x")
    assert not webhooks.first_delivery(source="payments.sandbox", event_id="evt_1", event_type="x")
    assert webhooks.first_delivery(source="shipping.sandbox", event_id="evt_1")


@pytest.mark.django_db
def test_a_rolled_back_delivery_is_not_recorded():
    with pytest.raises(RuntimeError), transaction.atomic():
        assert webhooks.first_delivery(source="payments.sandbox", event_id="evt_2")
        raise RuntimeError("the handler failed")
    assert webhooks.first_delivery(source="payments.sandbox", event_id="evt_2")


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_are_first_once():
    barrier = threading.Barrier(8)
    firsts = []

    def deliver():
        try:
            barrier.wait()
            with transaction.atomic():
                firsts.append(webhooks.first_delivery(source="payments.sandbox", event_id="evt_race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == [False] * 7 + [True]


@pytest.mark.django_db
def test_deliveries_past_their_retention_are_purged_and_younger_ones_kept(settings):
    settings.WEBHOOKS = {"RETENTION_SECONDS": 3600, "PURGE_BATCH": 2}
    now = timezone.now()
    for i, age in enumerate((7200, 7200, 7200, 60)):
        webhooks.WebhookDelivery.objects.create(
            source="payments.sandbox", event_id=f"evt_{i}", received_at=now - timedelta(seconds=age)
        )
    assert webhooks.deliveries_purge(now=now) == 3
    assert list(webhooks.WebhookDelivery.objects.values_list("event_id", flat=True)) == ["evt_3"]
