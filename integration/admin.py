"""Operator screens for the bus: outbox messages, deliveries (with replay), inbox records.

Deliveries filter by status and by failure reason: a handler this deployment does not have, an event
type it does not know, a malformed payload, or the handler's own error.
"""

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from integration.admin_selection import SelectedIdsChecked
from integration.adminkit import ModelAdmin
from integration.bus import core, registry
from integration.bus.models import Delivery, InboxRecord, OutboxMessage
from integration.webhooks.models import WebhookDelivery


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("handler", "status", "attempts", "next_attempt_at", "delivered_at", "last_error")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ModelAdmin):
    list_display = ("type", "id", "source", "created_at", "dispatched_at", "correlation_id")
    list_filter = ("type", "source", ("dispatched_at", admin.EmptyFieldListFilter))
    search_fields = ("id", "type", "correlation_id", "causation_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    inlines = [DeliveryInline]
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReasonFilter(admin.SimpleListFilter):
    """Why a delivery failed: a permanent reason recorded by the bus, or the handler's own error."""

    title = "failure reason"
    parameter_name = "reason"
    HANDLER_ERROR = "handler-error"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in core.REASONS.items()] + [
            (self.HANDLER_ERROR, "the handler raised")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in core.REASONS:
            return queryset.filter(last_error__regex=core.REASONS[value][1])
        if value == self.HANDLER_ERROR:
            queryset = queryset.exclude(last_error="")
            for _, pattern in core.REASONS.values():
                queryset = queryset.exclude(last_error__regex=pattern)
            return queryset
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(ModelAdmin):
    list_display = ("handler", "event_type", "status", "attempts", "reason", "next_attempt_at", "updated_at")
    list_filter = ("status", ReasonFilter, "message__type", "handler", "queue")
    search_fields = ("handler", "message__id", "message__type", "message__correlation_id", "last_error")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    list_select_related = ("message",)
    actions = ["replay"]
    list_per_page = 50

    @admin.display(ordering="message__type", description="event type")
    def event_type(self, obj: Delivery) -> str:
        return obj.message.type

    @admin.display(description="last error")
    def reason(self, obj: Delivery) -> str:
        # A permanent reason is one line; a traceback ends with the exception's line.
        lines = [line for line in obj.last_error.splitlines() if line.strip()]
        return lines[-1][:160] if lines else ""

    @admin.action(description="Replay selected dead or failed deliveries")
    def replay(self, request, queryset):
        rows = list(
            queryset.filter(status__in=(Delivery.Status.DEAD, Delivery.Status.FAILED)).values_list(
                "id", "handler"
            )
        )
        # Replaying a delivery whose handler this code does not have only dead-letters it again.
        missing = sorted({handler for _, handler in rows if not _subscribed(handler)})
        count = core.replay([delivery_id for delivery_id, _ in rows])
        skipped = queryset.count() - count
        self.message_user(request, f"Replayed {count} deliveries.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} were neither dead nor failed and were left alone.", messages.WARNING
            )
        if missing:
            self.message_user(
                request,
                f"No handler is subscribed as {', '.join(missing)} in this deployment: those deliveries"
                " will be dead-lettered again until it is deployed.",
                messages.WARNING,
            )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InboxRecord)
class InboxRecordAdmin(ModelAdmin):
    list_display = ("handler", "event_id", "processed_at")
    list_filter = ("handler",)
    search_fields = ("handler", "event_id")
    readonly_fields = ("handler", "event_id", "processed_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    """Webhook events received, by sender and event id: what a redelivery is checked against."""

    list_display = ("source", "event_id", "event_type", "received_at")
    list_filter = ("source",)
    search_fields = ("=event_id", "event_type")
    readonly_fields = ("source", "event_id", "event_type", "received_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _subscribed(handler: str) -> bool:
    try:
        registry.subscription(handler)
    except registry.UnknownSubscription:
        return False
    return True


# The idempotency keys' screen lives with their mechanism; admin discovers only this module.
from integration.idempotency import admin as _idempotency_admin  # noqa: E402, F401

# Django's and simplejwt's own screens (groups, tokens) refuse selected ids that are no ids as every
# screen of ours does (integration.adminkit.ModelAdmin): registered again with the check mixed in.
for _model in (Group, OutstandingToken, BlacklistedToken):
    _own = type(admin.site.get_model_admin(_model))
    admin.site.unregister(_model)
    admin.site.register(_model, type(_own.__name__, (SelectedIdsChecked, _own), {}))
