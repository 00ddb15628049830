"""The storefront product API: listing with filters, detail with ETags, categories, staff writes."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contexts.catalog import api, services
from contexts.catalog.models import Product
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import make_product

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


@pytest.fixture
def shelf(tree):
    make_product("KNIFE-1", name="Chef knife", price="49.90", stock=3, category="cutlery")
    make_product("PAN-1", name="Frying pan", price="24.50", stock=0, category="kitchen")
    make_product("HOSE-1", name="Garden hose", price="15.00", stock=8, category="garden")
    make_product(
        "NOVEL-1",
        name="A novel",
        price="9.99",
        stock=2,
        category="books",
        description="a story about a lost knife",
    )
    make_product("OLD-1", name="Retired kettle", price="5.00", stock=1, category="kitchen", active=False)


def skus(response):
    assert response.status_code == 200, response.content
    return [p["sku"] for p in response.json()["results"]]


def test_listing_is_public_paginated_and_renders_money_as_strings(api_client, shelf):
    response = api_client.get(URL)
    body = response.json()
    assert body["count"] == 4  # the inactive product is not listed
    knife = next(p for p in body["results"] if p["sku"] == "KNIFE-1")
    assert knife == {
        "sku": "KNIFE-1",
        "name": "Chef knife",
        "slug": knife["slug"],
        "price": "49.90",
        "currency": "EUR",
        "category": "cutlery",
        "images": [],
        "available": 3,
    }


def test_category_filter_includes_descendants(api_client, shelf):
    assert set(skus(api_client.get(URL, {"category": "home"}))) == {"KNIFE-1", "PAN-1", "HOSE-1"}
    assert set(skus(api_client.get(URL, {"category": "kitchen"}))) == {"KNIFE-1", "PAN-1"}
    assert skus(api_client.get(URL, {"category": "cutlery"})) == ["KNIFE-1"]
    assert skus(api_client.get(URL, {"category": "no-such-category"})) == []


def test_price_bounds_stock_and_search_filters(api_client, shelf):
    assert skus(api_client.get(URL, {"min_price": "15", "max_price": "25", "ordering": "price"})) == [
        "HOSE-1",
        "PAN-1",
    ]
    assert "PAN-1" not in skus(api_client.get(URL, {"in_stock": "true"}))
    assert skus(api_client.get(URL, {"in_stock": "false"})) == ["PAN-1"]
    # Name or description, case-insensitively.
    assert set(skus(api_client.get(URL, {"search": "KNIFE"}))) == {"KNIFE-1", "NOVEL-1"}


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["NOVEL-1", "HOSE-1", "PAN-1", "KNIFE-1"]),
        ("-price", ["KNIFE-1", "PAN-1", "HOSE-1", "NOVEL-1"]),
        ("name", ["NOVEL-1", "KNIFE-1", "PAN-1", "HOSE-1"]),
        ("newest", ["NOVEL-1", "HOSE-1", "PAN-1", "KNIFE-1"]),
    ],
)
def test_ordering(api_client, shelf, ordering, expected):
    assert skus(api_client.get(URL, {"ordering": ordering})) == expected


def test_page_size_is_capped_at_100(api_client, tree):
    Product.objects.bulk_create(
        [
            Product(sku=f"BULK-{i:03}", name=f"Bulk {i}", slug=f"bulk-{i}", price=1, currency="EUR")
            for i in range(120)
        ]
    )
    response = api_client.get(URL, {"page_size": 500})
    assert len(response.json()["results"]) == 100
    assert response.json()["count"] == 120


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "abc"},
        {"max_price": "NaN"},
        {"min_price": "-1"},
        {"min_price": "1e400"},
        {"min_price": "30", "max_price": "10"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page_size": "0"},
        {"ordering": "password"},
        {"ordering": "-is_active"},
        {"in_stock": "maybe"},
        {"search": "knife\x00"},
        {"search": "x" * 1000},
        {"category": "../etc"},
    ],
)
def test_bad_filters_are_400_problems_never_500(api_client, shelf, params):
    response = api_client.get(URL, params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/validation-error")


def test_a_page_past_the_end_is_empty(api_client, shelf):
    response = api_client.get(URL, {"page": 10**9})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["results"] == []
    assert api_client.get(URL, {"page": 3}).json()["results"] == []


def test_the_query_count_does_not_depend_on_the_page_size(api_client, tree):
    for i in range(60):
        make_product(f"Q-{i:03}", stock=i % 3, category="cutlery" if i % 2 else "garden")

    def queries(page_size):
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(URL, {"category": "home", "ordering": "price", "page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    # Cold: the category subtree and the count (both then cached), a page of ids, the rows of that page.
    assert queries(1) == 4
    assert queries(1) == queries(10) == queries(60) == 2


def test_detail_has_an_etag_and_answers_304_while_unchanged(api_client, shelf):
    response = api_client.get(f"{URL}KNIFE-1/")
    assert response.status_code == 200
    assert response.json()["available"] == 3
    assert response.json()["price"] == "49.90"
    etag = response["ETag"]
    again = api_client.get(f"{URL}KNIFE-1/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    # A reservation changes what is available, so the representation and its tag change.
    api.stock_reserve(key="k1", lines=[api.StockLine(sku="KNIFE-1", quantity=1)], ttl=60)
    changed = api_client.get(f"{URL}KNIFE-1/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["available"] == 2


def test_unknown_and_inactive_products_are_404_problems(api_client, shelf):
    for sku in ("NOPE", "OLD-1"):
        response = api_client.get(f"{URL}{sku}/")
        assert response.status_code == 404
        assert response.json()["type"].endswith("/product-not-found")


def test_categories_are_a_tree(api_client, tree):
    body = api_client.get("/api/v1/categories/").json()
    assert body == [
        {"slug": "books", "name": "Books", "children": []},
        {
            "slug": "home",
            "name": "Home",
            "children": [
                {"slug": "garden", "name": "Garden", "children": []},
                {
                    "slug": "kitchen",
                    "name": "Kitchen",
                    "children": [{"slug": "cutlery", "name": "Cutlery", "children": []}],
                },
            ],
        },
    ]


# --- staff writes -----------------------------------------------------------------------------------

NEW = {
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "price": "39.00",
    "currency": "EUR",
    "category": "home",
    "attributes": {"colour": "black"},
    "images": ["https://img.example/lamp.jpg"],
}


def _events(type_name):
    return list(OutboxMessage.objects.filter(type=type_name).values_list("payload", flat=True))


def test_staff_create_a_product(staff_client, tree):
    response = staff_client.post(URL, NEW, format="json")
    assert response.status_code == 201, response.content
    assert response["Location"].endswith("/api/v1/products/LAMP-1/")
    body = response.json()
    assert body["price"] == "39.00"
    assert body["available"] == 0
    assert body["attributes"] == {"colour": "black"}
    assert _events("catalog.ProductCreated.v1")[0]["sku"] == "LAMP-1"
    again = staff_client.post(URL, NEW, format="json")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/product-exists")


def test_staff_change_price_and_deactivate(staff_client, api_client, tree):
    make_product("LAMP-1", price="39.00")
    response = staff_client.patch(f"{URL}LAMP-1/", {"price": "35.50"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["price"] == "35.50"
    assert _events("catalog.ProductPriceChanged.v1") == [
        {
            "sku": "LAMP-1",
            "old_price": "39.00",
            "new_price": "35.50",
            "old_currency": "EUR",
            "currency": "EUR",
        }
    ]
    assert staff_client.patch(f"{URL}LAMP-1/", {"active": False}, format="json").json()["active"] is False
    assert _events("catalog.ProductDeactivated.v1") == [{"sku": "LAMP-1"}]
    assert api_client.get(f"{URL}LAMP-1/").status_code == 404
    assert staff_client.get(f"{URL}LAMP-1/").status_code == 200  # staff still see it, to reactivate


def test_writes_reject_bad_input_and_a_changed_sku(staff_client, tree):
    make_product("LAMP-1")
    bad = staff_client.post(URL, {**NEW, "price": "-1", "currency": "euro"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"price", "currency"}
    assert staff_client.patch(f"{URL}LAMP-1/", {"sku": "OTHER"}, format="json").status_code == 400
    assert staff_client.post(URL, {**NEW, "category": "nope"}, format="json").status_code == 422


def test_customers_get_403_and_anonymous_401_on_writes(customer_client, api_client, tree):
    make_product("LAMP-1")
    assert customer_client.post(URL, NEW, format="json").status_code == 403
    assert customer_client.patch(f"{URL}LAMP-1/", {"price": "1.00"}, format="json").status_code == 403
    assert api_client.post(URL, NEW, format="json").status_code == 401
    assert Product.objects.get(sku="LAMP-1").price == Decimal("10.00")


def test_listing_never_reads_the_users_table(api_client, staff_client, shelf):
    with CaptureQueriesContext(connection) as ctx:
        api_client.get(URL)
        staff_client.get(f"{URL}KNIFE-1/")
        staff_client.patch(f"{URL}KNIFE-1/", {"name": "Knife"}, format="json")
    assert not [q for q in ctx.captured_queries if "users_user" in q["sql"]]


def test_services_reject_an_unknown_category(tree):
    with pytest.raises(api.CatalogError):
        services.product_create(sku="X-1", name="x", price=Decimal(1), currency="EUR", category="nope")


@pytest.mark.parametrize(
    "attributes", [{"colour": "bl\x00ue"}, {"bad\x00key": "x"}, {"nested": [{"deep": "\x00"}]}]
)
def test_nul_characters_anywhere_in_attributes_are_a_400_not_a_database_error(staff_client, tree, attributes):
    response = staff_client.post(URL, {**NEW, "attributes": attributes}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    # Named by the field, or by the path to the bad text inside it.
    assert any(name.split(".")[0] == "attributes" for name in response.json()["errors"])


@pytest.mark.parametrize("page", ["²", "٣", "1.5", "-1"])
def test_pages_that_are_not_plain_ascii_numbers_are_a_400(api_client, page):
    response = api_client.get(URL, {"page": page})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_new_subcategory_shows_in_its_parents_listing_at_once(api_client, tree):
    from contexts.catalog import services

    make_product("PAN-1", category="kitchen")
    assert [p["sku"] for p in api_client.get(URL, {"category": "home"}).json()["results"]] == ["PAN-1"]
    services.category_create(slug="pans", name="Pans", parent_slug="kitchen")
    make_product("PAN-2", category="pans")
    listed = {p["sku"] for p in api_client.get(URL, {"category": "home"}).json()["results"]}
    assert listed == {"PAN-1", "PAN-2"}


def test_the_category_subtree_is_served_from_the_cache_after_the_first_listing(
    api_client, tree, django_assert_num_queries
):
    make_product("PAN-1", category="kitchen")
    api_client.get(URL, {"category": "home"})
    from contexts.catalog import selectors

    with django_assert_num_queries(0):
        ids = selectors.category_subtree_ids(slug="home")
    assert len(ids) == 4  # home, kitchen, cutlery, garden
