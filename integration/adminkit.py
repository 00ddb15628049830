"""Admin building blocks every context's admin shares: a model admin whose changelist turns any bad
query into Django's own "invalid lookup" page, and records operators read but never edit by hand (a
transaction log, a ledger, an issued invoice), whose changes go through services."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList as DjangoChangeList

from integration.admin_selection import SelectedIdsChecked


class ChangeList(DjangoChangeList):
    """Django's changelist, with a date-hierarchy year or day beyond what a datetime holds
    (`?created_at__year=99999999999`, or 9999, whose next year is 10000) refused like any other bad
    lookup: Django builds those datetimes outside its own guard, and they raised a 500."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


class ModelAdmin(SelectedIdsChecked, admin.ModelAdmin):
    """The base of every model admin of the project: bad changelist queries and actions given ids that
    are no ids are refused, never a 500 (tests/platform/test_admin_hostile.py sweeps every registered
    changelist and its actions with hostile input)."""

    def get_changelist(self, request, **kwargs):
        return ChangeList


class ReadOnlyInline(admin.TabularInline):
    """A tabular inline of rows no one adds, edits or deletes from the admin."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ModelAdmin):
    """A model admin for records that are only read: listed, searched and opened, never written.
    `deletable = True` lets operators delete rows (a log they may prune), still never edit them."""

    deletable = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)
