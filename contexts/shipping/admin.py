"""Operator screens for shipping: shipments with their lines and tracking timeline, an operator's
tracking event (held to the lifecycle like any other change), cancelling, and the create requests the
carrier refused.

Shipments are never edited field by field: every change goes through the services, so the admin
publishes the same events and obeys the same transition table as the API and the webhooks. A change
the table refuses is shown as an error and nothing is recorded.
"""

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from contexts.shipping import services
from contexts.shipping.data import ShippingError
from contexts.shipping.lifecycle import TRACKING_STATUSES, TRANSITIONS
from contexts.shipping.models import (
    LOCATION_LENGTH,
    Shipment,
    ShipmentLine,
    ShipmentRefusal,
    Status,
    TrackingEvent,
)
from integration.adminkit import ModelAdmin


def _admin_actor(request) -> str:
    return f"admin:{request.user.get_username()}"


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class ShipmentLineInline(_ReadOnlyInline):
    model = ShipmentLine
    fields = ("sku", "quantity")


class TrackingEventInline(_ReadOnlyInline):
    model = TrackingEvent
    verbose_name_plural = "tracking timeline (by when each happened)"
    fields = ("occurred_at", "status", "location", "source", "actor", "event_id", "received_at")
    ordering = ("occurred_at", "id")


@admin.register(Shipment)
class ShipmentAdmin(ModelAdmin):
    list_display = (
        "id",
        "status",
        "carrier",
        "tracking_number",
        "order_id",
        "estimated_delivery",
        "created_at",
    )
    list_filter = ("status", "carrier", "service_level")
    search_fields = ("tracking_number", "key")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "status",
        "add_event_link",
        "order_id",
        "user_id",
        "carrier",
        "service_level",
        "tracking_number",
        "carrier_reference",
        "estimated_delivery",
        "address",
        "key",
        "cancel_key",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = [ShipmentLineInline, TrackingEventInline]
    actions = ["cancel"]
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        # A shipment, order or customer id finds its shipments too (exact ids; other terms by text).
        found, duplicates = super().get_search_results(request, queryset, search_term)
        try:
            value = uuid.UUID(search_term.strip())
        except ValueError:
            return found, duplicates
        by_id = queryset.filter(pk=value) | queryset.filter(order_id=value) | queryset.filter(user_id=value)
        return found | by_id, duplicates

    def has_add_permission(self, request):
        return False  # shipments are created by orders (shipping.api.shipment_create)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        pass  # nothing here is edited; changes go through the actions and the tracking-event form

    def save_related(self, request, form, formsets, change):
        pass

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="tracking")
    def add_event_link(self, shipment):
        if shipment.status not in TRACKING_STATUSES and not TRANSITIONS[shipment.status] & set(
            TRACKING_STATUSES
        ):
            return "-"  # not yet with the carrier (no label), or cancelled
        url = reverse("admin:shipping_shipment_add_event", args=[shipment.pk])
        return format_html('<a href="{}">Add a tracking event</a>', url)

    @admin.action(description="Cancel selected shipments (void their labels)")
    def cancel(self, request, queryset):
        cancelled = 0
        for shipment in queryset.order_by("pk"):
            try:
                # One key per shipment: a second click, or a retry after the carrier's silence, is the
                # same request.
                services.shipment_cancel(key=f"admin-cancel:{shipment.pk}", shipment_id=shipment.pk)
            except ShippingError as exc:
                self.message_user(request, f"{shipment}: {exc}", level=messages.ERROR)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, f"{cancelled} shipment(s) cancelled.")

    # --- an operator's tracking event --------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/add-event/",
                self.admin_site.admin_view(self.add_event_view),
                name="shipping_shipment_add_event",
            ),
            *super().get_urls(),
        ]

    def add_event_view(self, request, object_id):
        try:
            pk = uuid.UUID(object_id)
        except ValueError:
            raise Http404("No such shipment.") from None
        shipment = get_object_or_404(Shipment, pk=pk)
        if not self.has_change_permission(request, shipment):
            raise PermissionDenied
        form = TrackingEventForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = services.tracking_event_add(
                    shipment_id=shipment.pk, actor=_admin_actor(request), **form.cleaned_data
                )
            except (ShippingError, ValidationError) as exc:
                # Refused by the lifecycle (or the checks): shown on the form; nothing was recorded.
                form.add_error(None, exc.detail if isinstance(exc, ShippingError) else exc)
            else:
                moved = "the status moved" if outcome == services.APPLIED else "the status is unchanged"
                self.message_user(request, f"Tracking event recorded; {moved}.")
                return HttpResponseRedirect(reverse("admin:shipping_shipment_change", args=[shipment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": shipment,
            "form": form,
            "allowed": sorted(TRANSITIONS[shipment.status] & set(TRACKING_STATUSES)),
            "title": f"Add a tracking event to {shipment}",
        }
        return TemplateResponse(request, "shipping/admin/add_tracking_event.html", context)


@admin.register(ShipmentRefusal)
class ShipmentRefusalAdmin(ModelAdmin):
    """Create requests the carrier refused (an address it cannot deliver to), kept under their keys."""

    list_display = ("created_at", "key", "order_id", "carrier", "carrier_code")
    list_filter = ("carrier", "carrier_code")
    search_fields = ("key", "=order_id", "=user_id")
    readonly_fields = [f.name for f in ShipmentRefusal._meta.fields]
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a key names its request for good


class TrackingEventForm(forms.Form):
    status = forms.ChoiceField(choices=[(s, Status(s).label) for s in TRACKING_STATUSES])
    occurred_at = forms.DateTimeField(initial=timezone.now, help_text="When it happened (UTC).")
    location = forms.CharField(max_length=LOCATION_LENGTH, required=False)
