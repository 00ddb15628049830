"""Admin actions given ids that are no ids: refused with a message, never a 500.

An action receives the primary keys a changelist posts (`_selected_action`), and Django filters the
queryset by them as they come: a value the key's field cannot hold ("not-a-uuid" for a UUID, a number
past an integer column's range) raises while the query is built, and the operator gets a 500. A
ModelAdmin that mixes in SelectedIdsChecked checks each posted value against its primary key first;
one that is not an id of its rows is named in an error message and nothing is done.
"""

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError

from integration.text import replace_unstorable


class SelectedIdsChecked:
    """Mixin for a ModelAdmin (before admin.ModelAdmin in its bases) whose actions take selected ids."""

    def response_action(self, request, queryset):
        key = self.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                key.clean(value, None)  # the field's type and range, as a query would need them
            except ValidationError:
                shown = replace_unstorable(value)[:40]
                self.message_user(
                    request,
                    f"{shown!r} is not the id of a {self.model._meta.verbose_name}: nothing was done.",
                    messages.ERROR,
                )
                return None
        return super().response_action(request, queryset)
