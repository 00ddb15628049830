"""Admin building blocks every context's admin shares: records operators read but never edit by hand
(a transaction log, a ledger, an issued invoice). Their changes go through services."""

from django.contrib import admin


class ReadOnlyInline(admin.TabularInline):
    """A tabular inline of rows no one adds, edits or deletes from the admin."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model admin for records that are only read: listed, searched and opened, never written."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
