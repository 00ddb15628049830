"""Page-number pagination with a hard cap: a malformed page is a 400, a page past the end is empty.

`page` is a whole number from 1 to MAX_PAGE; `page_size` one from 1 up, capped at max_page_size
(DRF's rule: a larger size is served as the cap). Both are ASCII digits of bounded length, checked
before any int() conversion: a query string can carry thousands of digits, which int() converts in
quadratic time and refuses past 4,300 (a ValueError that would otherwise surface as a 500).
"""

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

MAX_PAGE = 10**7
# More digits than this is refused outright, whatever the value: no sane page size has ten digits.
_MAX_DIGITS = 9


def whole_number(raw: str, *, low: int, high: int) -> int | None:
    """`raw` as an int if it is ASCII digits (at most 9 of them) with a value in [low, high], else None.

    isdecimal() alone would admit other scripts' digits ("²", "٣"), which int() may refuse.
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_DIGITS:
        return None
    value = int(raw)
    return value if low <= value <= high else None


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param, "1")
        if whole_number(raw, low=1, high=MAX_PAGE) is None:
            raise ValidationError({"page": [f"A page is a whole number from 1 to {MAX_PAGE:,}."]})
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and whole_number(size, low=1, high=10**_MAX_DIGITS) is None:
            raise ValidationError(
                {
                    "page_size": [
                        f"A page size is a whole number from 1 (at most {self.max_page_size} are served)."
                    ]
                }
            )
        self.past_end_count = None
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            # Past the last page: an empty page, not an error, so clients can stop when results run out.
            self.past_end_count = self.django_paginator_class(queryset, 1).count
            return []

    def get_schema_operation_parameters(self, view):
        """`page` and `page_size` in OpenAPI, with the bounds paginate_queryset checks (a larger size
        within them is served as max_page_size, not refused)."""
        page, size = super().get_schema_operation_parameters(view)
        page["schema"].update(minimum=1, maximum=MAX_PAGE)
        size["schema"].update(minimum=1, maximum=10**_MAX_DIGITS - 1)
        size["description"] = (
            f"Results per page (default {self.page_size}; at most {self.max_page_size} are served)."
        )
        return [page, size]

    def get_paginated_response(self, data):
        if self.past_end_count is not None:
            return Response({"count": self.past_end_count, "next": None, "previous": None, "results": []})
        return super().get_paginated_response(data)
