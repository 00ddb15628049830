"""Operator screens for the bus: outbox messages, deliveries (with replay), inbox records."""

from django.contrib import admin, messages

from integration.bus import core
from integration.bus.models import Delivery, InboxRecord, OutboxMessage


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
class OutboxMessageAdmin(admin.ModelAdmin):
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


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("handler", "event_type", "status", "attempts", "next_attempt_at", "updated_at")
    list_filter = ("status", "message__type", "handler", "queue")
    search_fields = ("handler", "message__id", "message__type", "message__correlation_id", "last_error")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    list_select_related = ("message",)
    actions = ["replay"]
    list_per_page = 50

    @admin.display(ordering="message__type", description="event type")
    def event_type(self, obj: Delivery) -> str:
        return obj.message.type

    @admin.action(description="Replay selected dead or failed deliveries")
    def replay(self, request, queryset):
        ids = list(
            queryset.filter(status__in=(Delivery.Status.DEAD, Delivery.Status.FAILED)).values_list(
                "id", flat=True
            )
        )
        count = core.replay(ids)
        skipped = queryset.count() - count
        self.message_user(request, f"Replayed {count} deliveries.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} were neither dead nor failed and were left alone.", messages.WARNING
            )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InboxRecord)
class InboxRecordAdmin(admin.ModelAdmin):
    list_display = ("handler", "event_id", "processed_at")
    list_filter = ("handler",)
    search_fields = ("handler", "event_id")
    readonly_fields = ("handler", "event_id", "processed_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
