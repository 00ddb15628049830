"""Payments in the admin: payments with their transaction log, refunds made by an operator (amount,
reason and an explicit confirmation; the operator is recorded), invoices, and each provider's breaker.

Nothing here edits a payment's money fields directly: a refund goes through the same service as the
API (provider call, checks, event), and invoices are read-only.
"""

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from contexts.payments import services
from contexts.payments.models import Invoice, Payment, ProviderCall, Refund
from integration import resilience
from integration.adminkit import ModelAdmin, ReadOnlyAdmin, ReadOnlyInline
from integration.errors import ContextError
from integration.logging import get_logger

log = get_logger("contexts.payments.admin")


class ProviderCallInline(ReadOnlyInline):
    """The transaction log: one row per call to the provider."""

    model = ProviderCall
    fields = (
        "created_at",
        "kind",
        "amount",
        "key",
        "outcome",
        "provider_reference",
        "duration_ms",
        "response",
    )
    readonly_fields = fields
    ordering = ("created_at", "id")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("created_at", "amount", "reason", "status", "actor", "provider_reference")
    readonly_fields = fields


class RefundForm(forms.Form):
    amount = forms.DecimalField(max_digits=12, decimal_places=2)
    reason = forms.CharField(max_length=300)
    confirm = forms.BooleanField(label="I confirm this refund: the money goes back to the customer.")
    # Made when the form is shown: submitting the page twice refunds once (the service is keyed).
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        remaining = payment.captured_amount - payment.refunded_amount
        self.fields["amount"].help_text = f"At most {remaining} {payment.currency}."

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise ValidationError("A refund is more than zero.")
        return amount


@admin.register(Payment)
class PaymentAdmin(ModelAdmin):
    list_display = (
        "id",
        "order_id",
        "user_id",
        "amount",
        "currency",
        "status",
        "provider",
        "invoice_link",
        "created_at",
    )
    list_filter = ("status", "provider", "currency")
    search_fields = ("=id", "=order_id", "=user_id", "provider_reference", "key")
    date_hierarchy = "created_at"
    inlines = [ProviderCallInline, RefundInline]
    actions = ["refund_selected"]
    change_list_template = "payments/admin/payment_changelist.html"
    change_form_template = "payments/admin/payment_change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Payment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description="invoice")
    def invoice_link(self, payment):
        try:
            invoice = payment.invoice
        except Invoice.DoesNotExist:
            return "-"
        url = reverse("admin:payments_invoice_change", args=[invoice.pk])
        return format_html('<a href="{}">{}</a>', url, invoice.number)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "breakers": _breakers()})

    # --- refunds -----------------------------------------------------------------------------------

    @admin.action(description="Refund the selected payment…")
    def refund_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one payment to refund.", level=messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:payments_payment_refund", args=[queryset.get().pk]))

    def get_urls(self):
        return [
            path(
                "<uuid:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, payment_id: uuid.UUID):
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        payment = get_object_or_404(Payment, pk=payment_id)
        if request.method == "POST":
            form = RefundForm(request.POST, payment=payment)
        else:
            form = RefundForm(payment=payment, initial={"key": uuid.uuid4()})
        if request.method == "POST" and form.is_valid():
            actor = f"admin:{request.user.get_username()}"
            try:
                refund = services.payment_refund(
                    key=f"admin-refund:{form.cleaned_data['key']}",
                    payment_id=payment.pk,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=actor,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except ContextError as exc:
                form.add_error(None, exc.detail or exc.title)
            else:
                log.info(
                    "payment.refunded_by_operator",
                    payment_id=str(payment.pk),
                    refund_id=str(refund.pk),
                    actor=actor,
                )
                self.message_user(request, f"Refunded {refund.amount} {payment.currency} ({refund.reason}).")
                return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": payment,
            "form": form,
            "title": f"Refund payment {payment.pk}",
        }
        return TemplateResponse(request, "payments/admin/refund.html", context)


def _breakers() -> list:
    """Each dependency's breaker as every process sees it; an empty list if the shared store is down
    (the page must still load for the operator who is looking into why)."""
    try:
        return resilience.breaker_states()
    except Exception as exc:
        log.warning("payments.admin.breakers_unavailable", error=str(exc))
        return []


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "issued_at", "payment", "order_id", "total", "currency")
    search_fields = ("number", "=order_id", "=payment__id")
    list_filter = ("year", "currency")
    date_hierarchy = "issued_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Invoice._meta.fields]


@admin.register(Refund)
class RefundAdmin(ModelAdmin):
    list_display = ("id", "payment", "amount", "reason", "status", "actor", "created_at")
    list_filter = ("status",)
    search_fields = ("=id", "=payment__id", "actor")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Refund._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
