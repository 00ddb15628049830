"""Operator screens for the catalog: products, stock adjustments, the ledger, active reservations.

Products have bulk actions and CSV in and out; a stock adjustment needs a reason. Every write goes
through the services, so the admin publishes the same events and writes the same ledger as the API.
"""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from contexts.catalog import services
from contexts.catalog.data import CatalogError
from contexts.catalog.forms import ProductAdminForm
from contexts.catalog.models import Category, Movement, Product, Reservation, ReservationLine, Stock
from integration import money
from integration.adminkit import ModelAdmin, ReadOnlyAdmin

# What the export writes and the import reads back: the service's field names (attributes and images,
# being JSON, stay on the product screen).
CSV_COLUMNS = ["sku", *(field for field in services.FIELDS if field not in ("attributes", "images"))]


# A cell a spreadsheet would run as a formula ("=HYPERLINK(...)", "+cmd|..."): OWASP's CSV injection
# advice is to make it text with a leading apostrophe, which spreadsheets do not display.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(product: Product, column: str) -> str:
    if column == "category":
        return product.category.slug if product.category else ""
    if column == "active":
        return "true" if product.is_active else "false"
    if column == "price":
        return money.amount_text(amount=product.price, currency=product.currency)
    text = str(getattr(product, column))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _admin_actor(request) -> str:
    return f"admin:{request.user.get_username()}"


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ("path", "name", "slug")
    search_fields = ("slug", "name")
    ordering = ("path",)

    def get_readonly_fields(self, request, obj=None):
        # Moving or renaming a node would have to rewrite its subtree's paths: create a new one instead.
        return ("slug", "parent", "path") if obj else ("path",)

    def save_model(self, request, obj, form, change):
        if change:
            services.category_rename(slug=obj.slug, name=obj.name)
            return
        created = services.category_create(
            slug=obj.slug, name=obj.name, parent_slug=obj.parent.slug if obj.parent else None
        )
        obj.pk, obj.path = created.pk, created.path

    def delete_model(self, request, obj):
        try:
            services.category_delete(slug=obj.slug)
        except CatalogError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)

    def delete_queryset(self, request, queryset):
        # Deepest first, so a selected subtree can go in one action.
        for slug in queryset.order_by("-path").values_list("slug", flat=True):
            self.delete_model(request, Category(slug=slug))


class StockInline(admin.StackedInline):
    model = Stock
    can_delete = False
    fields = ("on_hand", "reserved", "available", "adjust_link")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="available")
    def available(self, stock):
        return stock.available

    @admin.display(description="adjust")
    def adjust_link(self, stock):
        if not stock.pk:  # the blank inline of a product not created yet
            return "-"
        url = reverse("admin:catalog_stock_change", args=[stock.pk])
        return format_html('<a href="{}">Adjust stock (with a reason)</a>', url)


@admin.register(Product)
class ProductAdmin(ModelAdmin):
    form = ProductAdminForm
    list_display = ("sku", "name", "price", "currency", "category", "is_active", "on_hand", "reserved")
    list_filter = ("is_active", "currency", "category")
    list_select_related = ("category", "stock")
    search_fields = ("sku", "name", "slug")
    ordering = ("sku",)
    inlines = [StockInline]
    actions = ["activate", "deactivate", "export_csv"]
    list_per_page = 50
    change_list_template = "catalog/admin/product_changelist.html"

    def get_readonly_fields(self, request, obj=None):
        return ("sku", "created_at", "updated_at") if obj else ()

    def has_delete_permission(self, request, obj=None):
        # Products are deactivated, never deleted: reservations, the ledger and orders refer to SKUs.
        return False

    @admin.display(ordering="stock__on_hand")
    def on_hand(self, product):
        return product.stock.on_hand

    @admin.display(ordering="stock__reserved")
    def reserved(self, product):
        return product.stock.reserved

    def save_model(self, request, obj, form, change):
        # The form already ran the model's checks; the service runs them again under the row lock.
        if change:
            saved = services.product_update(sku=obj.sku, **form.changes())
        else:
            saved = services.product_create(sku=form.cleaned_data["sku"], **form.changes())
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        form.save_m2m()
        # The stock inline is read-only (stock changes by adjustments only): none of it is saved, and
        # the admin's change message, which reads what each formset saved, is told so.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description="Activate selected products")
    def activate(self, request, queryset):
        count = services.products_set_active(skus=queryset.values_list("sku", flat=True), active=True)
        self.message_user(request, f"{count} product(s) activated.")

    @admin.action(description="Deactivate selected products")
    def deactivate(self, request, queryset):
        count = services.products_set_active(skus=queryset.values_list("sku", flat=True), active=False)
        self.message_user(request, f"{count} product(s) deactivated.")

    @admin.action(description="Export selected products as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="products-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for product in queryset.select_related("category").order_by("sku"):
            writer.writerow([_csv_cell(product, column) for column in CSV_COLUMNS])
        return response

    # --- CSV import --------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="catalog_product_import_csv",
            ),
            *super().get_urls(),
        ]

    def import_csv_view(self, request):
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = CsvImportForm(request.POST, request.FILES) if request.method == "POST" else CsvImportForm()
        if request.method == "POST" and form.is_valid():
            try:
                created, updated = _import_upload(form.cleaned_data["file"])
            except ValidationError as exc:
                for message in exc.messages[:20]:
                    self.message_user(request, message, level=messages.ERROR)
            else:
                self.message_user(request, f"Imported: {created} created, {updated} updated.")
                return HttpResponseRedirect(reverse("admin:catalog_product_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "columns": ", ".join(CSV_COLUMNS),
            "title": "Import products from CSV",
        }
        return TemplateResponse(request, "catalog/admin/import_csv.html", context)


def _import_upload(upload) -> tuple[int, int]:
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8.") from None
    return services.products_import_csv(text=text)


class CsvImportForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with a header row.")


class StockAdjustmentForm(forms.ModelForm):
    """Stock is never typed in: an operator states a change and why, and the ledger records both."""

    delta = forms.IntegerField(
        min_value=-services.MAX_QUANTITY,
        max_value=services.MAX_QUANTITY,
        help_text="Units to add (positive) or remove (negative).",
    )
    kind = forms.ChoiceField(
        choices=[(Movement.Kind.RECEIPT, "receipt (goods in)"), (Movement.Kind.ADJUSTMENT, "correction")],
        initial=Movement.Kind.ADJUSTMENT,
    )
    reason = forms.CharField(max_length=500, help_text="Required: written to the ledger.")

    class Meta:
        model = Stock
        fields = ()

    def clean(self):
        data = super().clean()
        if data.get("delta") == 0:
            self.add_error("delta", "A zero adjustment changes nothing.")
        return data


@admin.register(Stock)
class StockAdmin(ModelAdmin):
    form = StockAdjustmentForm
    list_display = ("product", "on_hand", "reserved", "available", "updated_at")
    search_fields = ("product__sku", "product__name")
    readonly_fields = ("product", "on_hand", "reserved", "available", "recent_ledger")
    list_select_related = ("product",)

    @admin.display(description="available")
    def available(self, stock):
        return stock.available

    @admin.display(description="recent ledger")
    def recent_ledger(self, stock):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{:+}</td><td>{:+}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.created_at,
                    m.kind,
                    m.on_hand_delta,
                    m.reserved_delta,
                    m.reservation_key,
                    m.actor,
                    m.reason,
                )
                for m in Movement.objects.filter(stock=stock).order_by("-id")[:20]
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>kind</th><th>on hand</th><th>reserved</th><th>key</th>"
            "<th>actor</th><th>reason</th></tr>{}</table>",
            rows,
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.stock_adjust(
                sku=obj.pk,
                delta=form.cleaned_data["delta"],
                reason=form.cleaned_data["reason"],
                kind=form.cleaned_data["kind"],
                actor=_admin_actor(request),
            )
        except CatalogError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        obj.refresh_from_db()


@admin.register(Movement)
class MovementAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "stock", "kind", "on_hand_delta", "reserved_delta", "actor", "reason")
    list_filter = ("kind",)
    search_fields = ("stock__product__sku", "reservation_key", "actor", "reason")
    date_hierarchy = "created_at"
    list_per_page = 100


class ReservationLineInline(admin.TabularInline):
    model = ReservationLine
    extra = 0
    fields = ("sku", "quantity")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ActiveFirstFilter(admin.SimpleListFilter):
    """Operators look at what is held right now; other states are one click away."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*Reservation.Status.choices, ("all", "all")]

    def queryset(self, request, queryset):
        value = self.value() or Reservation.Status.ACTIVE
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.value() or Reservation.Status.ACTIVE
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(Reservation)
class ReservationAdmin(ModelAdmin):
    list_display = ("key", "status", "expires_at", "created_at", "lines_summary")
    list_filter = (ActiveFirstFilter,)
    search_fields = ("key", "lines__sku")
    readonly_fields = ("key", "status", "expires_at", "created_at", "updated_at")
    inlines = [ReservationLineInline]
    actions = ["release"]
    ordering = ("expires_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines")

    @admin.display(description="lines")
    def lines_summary(self, reservation):
        return ", ".join(f"{line.quantity} x {line.sku}" for line in reservation.lines.all())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Release selected active reservations")
    def release(self, request, queryset):
        released = 0
        for key in queryset.filter(status=Reservation.Status.ACTIVE).values_list("key", flat=True):
            services.stock_release(key=key, actor=_admin_actor(request), reason="released by an operator")
            released += 1
        self.message_user(request, f"{released} reservation(s) released.")
