"""Django discovers the integration app's tables here; they live with the mechanism that owns them."""

from integration.bus.models import Delivery, InboxRecord, OutboxMessage
from integration.idempotency.models import IdempotencyKey
from integration.webhooks.models import WebhookDelivery

__all__ = ["Delivery", "IdempotencyKey", "InboxRecord", "OutboxMessage", "WebhookDelivery"]
