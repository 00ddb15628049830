"""Orders in the admin: each order with its lines, its timeline and its saga (every step's status,
attempts and last error, the correlation id, operators' actions); filters by status and by "stuck
longer than N minutes"; and the operators' actions on a saga — retry the current step, force
compensation, mark resolved — each asking for a reason and recorded with the operator.

Nothing here edits an order or a saga directly: every action goes through the orders services.
"""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from contexts.orders.models import OperatorAction, Order, OrderLine, OrderStatusChange, Saga
from contexts.orders.services import orders as services
from integration.adminkit import ModelAdmin, ReadOnlyInline
from integration.errors import ContextError

Kind = OperatorAction.Kind
ACTIONS = {
    Kind.RETRY_STEP: (
        "Retry the current step",
        "The current step (or a compensation that kept failing) is sent to a worker again now.",
    ),
    Kind.FORCE_COMPENSATION: (
        "Force compensation",
        "The saga stops and undoes what it did (release the stock, void or refund the payment, cancel "
        "the shipment); the order ends cancelled.",
    ),
    Kind.MARK_RESOLVED: (
        "Mark resolved",
        "For a saga whose compensation kept failing and which you finished by hand: the order becomes "
        "cancelled.",
    ),
}


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "name", "quantity", "unit_price", "line_total")
    readonly_fields = fields


class TimelineInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ("at", "status", "note")
    readonly_fields = fields
    verbose_name_plural = "timeline"


class StuckFilter(admin.SimpleListFilter):
    """Orders whose saga is unfinished (running, compensating or failed) and has not moved for longer
    than N minutes. Any N may be typed into the URL (?stuck=90)."""

    title = "stuck longer than"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("5", "5 minutes"), ("15", "15 minutes"), ("60", "1 hour"), ("1440", "1 day")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit()) or len(value) > 6:
            return queryset.none()
        since = timezone.now() - dt.timedelta(minutes=int(value))
        return queryset.filter(
            saga__status__in=[Saga.Status.RUNNING, Saga.Status.COMPENSATING, Saga.Status.FAILED],
            saga__updated_at__lt=since,
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Order)
class OrderAdmin(ModelAdmin):
    list_display = (
        "number",
        "user_id",
        "status",
        "cancellation_reason",
        "total",
        "currency",
        "saga_state",
        "created_at",
        "updated_at",
    )
    list_filter = ("status", StuckFilter, "cancellation_reason", "currency")
    search_fields = ("=number", "=id", "=user_id", "=saga__correlation_id")
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, TimelineInline]
    actions = ["retry_step", "force_compensation", "mark_resolved"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Order._meta.fields] + ["saga_timeline"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("saga")

    @admin.display(description="saga")
    def saga_state(self, order):
        saga = getattr(order, "saga", None)
        return f"{saga.status} · {saga.current_step}" if saga else "-"

    @admin.display(description="saga")
    def saga_timeline(self, order):
        saga = Saga.objects.filter(order=order).first()
        if saga is None:
            return "-"
        steps = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    s.name,
                    s.status,
                    s.attempts,
                    s.compensation_attempts,
                    s.started_at or "-",
                    s.finished_at or "-",
                    s.last_error or "-",
                )
                for s in saga.steps.all()
            ),
        )
        actions = format_html_join(
            "",
            "<li>{} — {} by {}: {}</li>",
            ((a.at, a.get_kind_display(), a.operator, a.reason) for a in saga.operator_actions.all()),
        )
        return format_html(
            "<p>Saga {} · definition v{} · <strong>{}</strong> at <strong>{}</strong> · deadline {} · "
            "correlation id <code>{}</code>{}</p>"
            "<table><thead><tr><th>step</th><th>status</th><th>attempts</th><th>compensation attempts</th>"
            "<th>started</th><th>finished</th><th>last error</th></tr></thead><tbody>{}</tbody></table>"
            "<p>Operators' actions:</p><ul>{}</ul>",
            saga.id,
            saga.definition_version,
            saga.status,
            saga.current_step,
            saga.deadline or "-",
            saga.correlation_id,
            f" · failure reason {saga.failure_reason}" if saga.failure_reason else "",
            steps,
            actions or mark_safe("<li>none</li>"),
        )

    # --- operators' actions: each asks for a reason on its own page -----------------------------------

    def _one(self, request, queryset, kind: str):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one order.", level=messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:orders_order_saga_action", args=[queryset.get().pk, kind]))

    @admin.action(description="Retry the current step of the selected order…")
    def retry_step(self, request, queryset):
        return self._one(request, queryset, Kind.RETRY_STEP)

    @admin.action(description="Force compensation of the selected order…")
    def force_compensation(self, request, queryset):
        return self._one(request, queryset, Kind.FORCE_COMPENSATION)

    @admin.action(description="Mark the selected order's saga resolved…")
    def mark_resolved(self, request, queryset):
        return self._one(request, queryset, Kind.MARK_RESOLVED)

    def get_urls(self):
        return [
            path(
                "<uuid:order_id>/saga/<str:kind>/",
                self.admin_site.admin_view(self.saga_action_view),
                name="orders_order_saga_action",
            ),
            *super().get_urls(),
        ]

    def saga_action_view(self, request, order_id, kind: str):
        if kind not in ACTIONS:
            raise PermissionDenied
        if not request.user.has_perm("orders.add_operatoraction"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        saga = get_object_or_404(Saga, order=order)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = services.saga_operator_action(
                    order_id=order.pk,
                    kind=kind,
                    operator=request.user.get_username(),
                    reason=form.cleaned_data["reason"],
                )
            except ContextError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, f"Order {order.number}: {done}.", level=messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        title, explanation = ACTIONS[kind]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": order,
            "saga": saga,
            "form": form,
            "title": title,
            "explanation": explanation,
        }
        return TemplateResponse(request, "orders/admin/saga_action.html", context)
