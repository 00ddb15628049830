"""Page-number pagination with a hard cap: a malformed page is a 400, a page past the end is empty."""

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param, "1")
        # isdecimal() alone would admit other scripts' digits ("²", "٣"), which int() may refuse.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10**7:
            raise ValidationError({"page": ["A page is a whole number from 1 to 10,000,000."]})
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and (not (size.isascii() and size.isdigit()) or int(size) < 1):
            raise ValidationError({"page_size": ["A page size is a whole number from 1 to 100."]})
        self.past_end_count = None
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            # Past the last page: an empty page, not an error, so clients can stop when results run out.
            self.past_end_count = self.django_paginator_class(queryset, 1).count
            return []

    def get_paginated_response(self, data):
        if self.past_end_count is not None:
            return Response({"count": self.past_end_count, "next": None, "previous": None, "results": []})
        return super().get_paginated_response(data)
