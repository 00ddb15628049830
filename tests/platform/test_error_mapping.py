"""The edge's one table from an error's kind to an HTTP status and problem type."""

import pytest
from rest_framework.test import APIRequestFactory

from integration import errors
from integration.edge.problems import STATUS_BY_KIND, exception_handler


class ShelfEmpty(errors.Conflict):
    code = "shelf-empty"
    title = "The shelf is empty."
    skus: tuple[str, ...]


class WarehouseTimeout(errors.TransientError):
    code = "warehouse-timeout"
    retry_after: int


class Vanished(errors.NotFound):
    code = "vanished"


class Refused(errors.BusinessError):
    code = "refused"


def _answer(exc):
    request = APIRequestFactory().get("/api/v1/anything/")
    return exception_handler(exc, {"request": request, "view": None})


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (ShelfEmpty("Nothing left.", skus=("A",)), 409, "shelf-empty"),
        (Vanished(), 404, "vanished"),
        (Refused(), 400, "refused"),
        (WarehouseTimeout(retry_after=7), 503, "warehouse-timeout"),
    ],
)
def test_each_kind_maps_to_its_status_with_the_code_as_type(exc, status, slug):
    response = _answer(exc)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.data["type"].endswith("/" + slug)
    assert response.data["status"] == status


def test_fields_are_problem_members_and_a_transient_error_says_when_to_retry():
    body = _answer(ShelfEmpty("Nothing left.", skus=("A", "B"))).data
    assert body["skus"] == ["A", "B"] and body["detail"] == "Nothing left."
    assert body["title"] == "The shelf is empty."
    assert _answer(WarehouseTimeout(retry_after=7))["Retry-After"] == "7"


def test_the_table_covers_both_bases_so_no_context_error_is_a_500():
    assert errors.BusinessError in STATUS_BY_KIND and errors.TransientError in STATUS_BY_KIND


def test_an_error_field_cannot_take_a_problem_members_name():
    # A field named like a problem member (`status`) would collide with it in the body the edge writes.
    with pytest.raises(TypeError, match="status"):

        class Clashing(errors.Conflict):
            status: str

    with pytest.raises(TypeError, match="status"):
        errors.Conflict("refused", status="x")
