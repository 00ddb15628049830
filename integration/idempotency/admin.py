"""Operator screen for idempotency keys: find a client's key, see its stored answer, free a stuck one."""

from django.contrib import admin

from integration.adminkit import ModelAdmin
from integration.idempotency.models import IdempotencyKey


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("in-flight", "in flight"), ("completed", "completed")]

    def queryset(self, request, queryset):
        if self.value() == "in-flight":
            return queryset.filter(response_status__isnull=True)
        if self.value() == "completed":
            return queryset.filter(response_status__isnull=False)
        return queryset


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ModelAdmin):
    """Read-only, but deletable: deleting frees a key whose claim an operator knows to be dead sooner
    than IN_FLIGHT_SECONDS would, or lets a client reuse a key before RETENTION_SECONDS pass."""

    list_display = ("key", "user_id", "method", "path", "response_status", "created_at", "completed_at")
    list_filter = (StateFilter, "method", "response_status")
    search_fields = ("=key", "=user_id", "path")
    date_hierarchy = "created_at"
    exclude = ("response_body",)
    readonly_fields = [f.name for f in IdempotencyKey._meta.fields if f.name != "response_body"] + ["body"]
    list_per_page = 50

    @admin.display(description="stored response body")
    def body(self, obj: IdempotencyKey) -> str:
        return bytes(obj.response_body).decode("utf-8", "replace")[:10000]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
