"""Operator screens for accounts: list, search, roles at a glance, deactivation that revokes tokens.

State changes that matter go through the services: deactivating (or demoting) a user here revokes
every token they hold, exactly as the API would.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from rest_framework.exceptions import ValidationError as DRFValidationError

from contexts.users import services
from contexts.users.models import User
from integration.admin_selection import SelectedIdsChecked
from integration.edge.address import AddressField
from integration.text import canonical_email


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")

    def clean_email(self):
        # Stored in its one normal form, as registration does, so a lookalike spelling of an existing
        # address is caught by the unique index, and login (which normalises too) finds it.
        return canonical_email(self.cleaned_data["email"])


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self):
        return canonical_email(self.cleaned_data["email"])

    def clean_shipping_address(self):
        """An operator's edit must keep the one address shape the API (and users.api) relies on."""
        address = self.cleaned_data.get("shipping_address")
        if address in (None, ""):
            return None
        try:
            return AddressField().to_internal_value(address)
        except DRFValidationError as exc:
            raise forms.ValidationError(f"Not a valid address: {exc.detail}") from None


@admin.register(User)
class UserAdmin(SelectedIdsChecked, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("-date_joined",)
    list_display = ("email", "first_name", "last_name", "roles_display", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "email_verified")
    search_fields = ("email", "first_name", "last_name", "phone")
    readonly_fields = ("id", "date_joined", "last_login", "tokens_valid_after")
    actions = ("deactivate_users",)
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        ("Profile", {"fields": ("first_name", "last_name", "phone", "shipping_address")}),
        ("Preferences", {"fields": ("locale", "marketing_opt_in")}),
        ("Roles and access", {"fields": ("is_active", "is_staff", "is_superuser", "email_verified")}),
        ("Django permissions", {"classes": ("collapse",), "fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login", "tokens_valid_after")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "first_name", "last_name", "password1", "password2")},
        ),
    )

    @admin.display(description="roles")
    def roles_display(self, user: User) -> str:
        return ", ".join(user.roles)

    @admin.action(description="Deactivate the selected users and revoke their tokens")
    def deactivate_users(self, request, queryset):
        count = 0
        for user_id in queryset.filter(is_active=True).values_list("id", flat=True):
            services.user_deactivate(user_id=user_id)
            count += 1
        self.message_user(request, f"Deactivated {count} user(s), their tokens revoked.", messages.SUCCESS)

    def save_model(self, request, obj: User, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            return
        if "is_active" in form.changed_data and not obj.is_active:
            services.user_deactivate(user_id=obj.id)
        elif "is_staff" in form.changed_data:
            # Tokens carry the roles they were issued with: a promotion or demotion starts afresh.
            services.user_tokens_revoke_all(user_id=obj.id)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            # An operator's password reset ends every session, as the user's own change does.
            services.user_tokens_revoke_all(user_id=id)
        return response
