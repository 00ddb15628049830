"""The product form that the admin's product screen and the CSV import share: text in, service fields out.

Both read a product from text (an HTML form, a CSV row) under the service's field names
(services.products.FIELDS) and hand `changes()` to product_create / product_update unchanged, so how a
field is read from text is written once. The JSON API reads the same names with its serializer. Rules
about the stored product (the price in its currency's minor units, image URLs) are the model's and the
service's; this form only turns text into values and says which fields were sent.
"""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from contexts.catalog.models import Category, Product, images_validator, sku_validator
from integration import money

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _FlagInput(forms.CheckboxInput):
    """A checkbox whose sent text reaches the field as it is (Django's own turns any unknown text into
    True); an unticked box sends nothing, which is "no"."""

    def value_from_datadict(self, data, files, name):
        return data.get(name, False)


class FlagField(forms.BooleanField):
    """A yes/no that a checkbox or a CSV cell can send: true/false, yes/no, 1/0, on/off (any case).
    Anything else is an error, never silently "no" or "yes"."""

    widget = _FlagInput

    def to_python(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value or "").strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE or not text:
            return False
        raise ValidationError("Use true or false.", code="invalid")


class CurrencyField(forms.CharField):
    """An ISO 4217 code as people type it: "eur" is read as EUR before it is checked."""

    def to_python(self, value: Any) -> str:
        return super().to_python(value).upper()


class ProductFieldsForm(forms.Form):
    """A product's writable fields, read from text. `present` names the fields the source sent (all of
    the form's by default); `changes()` returns just those, as product_create / product_update take them.
    """

    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=220, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea)
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = CurrencyField(
        max_length=3, validators=[money.currency_validator], help_text="ISO 4217, such as EUR."
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.order_by("path"),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": "No category %(value)s."},
    )
    active = FlagField(required=False, initial=True)
    attributes = forms.JSONField(required=False, initial=dict)
    images = forms.JSONField(required=False, initial=list, validators=[images_validator])

    def __init__(self, *args: Any, present: Iterable[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if present is not None:
            for name in set(self.fields) - set(present) - {"sku"}:
                del self.fields[name]

    @property
    def sent(self) -> list[str]:
        return [name for name in self.fields if name != "sku"]

    def clean_attributes(self) -> dict:
        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError("Attributes are a JSON object.", code="invalid")
        return value

    def clean_images(self) -> list:
        value = self.cleaned_data.get("images")
        return [] if value in (None, "") else value

    def changes(self) -> dict[str, Any]:
        """The cleaned fields the source sent, by service name (the category as its slug)."""
        changes = {name: self.cleaned_data[name] for name in self.sent}
        if not changes.get("slug"):
            # A blank slug is made from the name on a create and left as it is on an update.
            changes.pop("slug", None)
        if "category" in changes:
            changes["category"] = changes["category"].slug if changes["category"] else None
        return changes


class ProductAdminForm(ProductFieldsForm, forms.ModelForm):
    """The admin's product screen: ProductFieldsForm, plus the SKU when creating. Being a ModelForm (as
    the admin requires) also runs the model's validation and uniqueness checks, so every rule the service
    would refuse shows as a field error on the form rather than an error page."""

    sku = forms.CharField(max_length=64, validators=[sku_validator])

    class Meta:
        model = Product
        # The fields stored under the same name, so the form's model validation sees the new values.
        fields = (
            "sku",
            "name",
            "slug",
            "description",
            "price",
            "currency",
            "category",
            "attributes",
            "images",
        )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["active"] = self.instance.is_active
            self.initial["category"] = self.instance.category.slug if self.instance.category_id else None
