"""Every admin changelist, swept with the query strings an outsider tries: each is an error page or a
redirect to the changelist's own error view (?e=1), never a 500."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.users.conftest import UserFactory

pytestmark = pytest.mark.django_db

HOSTILE_QUERIES = {
    "year-overflow": "{h}__year=99999999999",
    "year-last": "{h}__year=9999",
    "year-zero": "{h}__year=0",
    "month-13": "{h}__year=2024&{h}__month=13",
    "day-overflow": "{h}__year=2024&{h}__month=1&{h}__day=99999999999999999999",
    "page-overflow": "p=99999999999999999999",
    "order-overflow": "o=99999999999999999999",
    "order-garbage": "o=-.x",
    "unknown-lookup": "nope__in=1",
    "id-garbage": "id__exact=not-an-id",
    "pk-overflow": "pk=99999999999999999999999",
}


def changelists():
    for model, model_admin in admin.site._registry.items():
        yield pytest.param(model, model_admin, id=f"{model._meta.app_label}.{model._meta.model_name}")


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.raise_request_exception = False  # a 500 is counted, not raised, so every query is tried
    return client


@pytest.mark.parametrize(("model", "model_admin"), changelists())
def test_hostile_changelist_queries_are_never_a_500(operator, model, model_admin):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    hierarchy = model_admin.date_hierarchy or "created_at"
    failures = {}
    for name, query in HOSTILE_QUERIES.items():
        if "{h}" in query and not model_admin.date_hierarchy:
            continue
        response = operator.get(f"{url}?{query.format(h=hierarchy)}")
        if response.status_code >= 500 or response.status_code not in (200, 302, 400, 404):
            failures[name] = response.status_code
    assert not failures, failures


GARBAGE_IDS = ["not-an-id", "99999999999999999999999", "-1", "1.5", "x" * 300, "%25", "'"]


@pytest.mark.parametrize(("model", "model_admin"), changelists())
def test_garbage_selected_ids_of_every_action_are_never_a_500(operator, model, model_admin, rf):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    request = rf.get(url)
    request.user = UserFactory(is_staff=True, is_superuser=True)
    failures = {}
    for action in model_admin.get_actions(request):
        for value in GARBAGE_IDS:
            response = operator.post(url, {"action": action, "index": "0", "_selected_action": [value]})
            if response.status_code >= 500:
                failures[(action, value[:20])] = response.status_code
    assert not failures, failures


HOSTILE_OBJECT_QUERIES = ["", "_to_field=nope", "_popup=1&_to_field=id", "_changelist_filters=%25%25%25"]


@pytest.mark.parametrize(("model", "model_admin"), changelists())
def test_garbage_object_urls_are_never_a_500(operator, model, model_admin):
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    failures = {}
    for view in ("change", "delete", "history"):
        for value in GARBAGE_IDS[:3]:
            url = reverse(f"{prefix}_{view}", args=[value])
            for query in HOSTILE_OBJECT_QUERIES:
                response = operator.get(f"{url}?{query}")
                if response.status_code >= 500:
                    failures[(view, value[:20], query)] = response.status_code
    for query in [
        "q=(%5B%5C*%2B",
        "q=" + "a" * 5000,
        "all=&p=-1",
        "_to_field=nope",
        "_popup=1&_to_field=pk",
        "q=%3D1&all=",
        "o=1.2.3",
    ]:
        response = operator.get(f"{reverse(f'{prefix}_changelist')}?{query}")
        if response.status_code >= 500:
            failures[("changelist", query[:30])] = response.status_code
    assert not failures, failures
