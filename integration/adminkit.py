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
    """A model admin for records that are only read: listed, searched and opened, never written.
    `deletable = True` lets operators delete rows (a log they may prune), still never edit them."""

    deletable = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)
