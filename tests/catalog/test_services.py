"""The catalog's services as every writer uses them: categories, the one product field mapping, the
listing's cached counts, and the one place that says why a reservation call changed nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contexts.catalog import api, selectors, services
from contexts.catalog.data import CategoryInUse, CategoryNotFound
from contexts.catalog.forms import ProductFieldsForm
from contexts.catalog.models import Category, Product, Reservation, ReservationLine
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import make_product

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"

# --- categories ---------------------------------------------------------------------------------------


def test_categories_are_renamed_and_deleted_through_the_services_from_the_admin(
    admin_client, api_client, tree
):
    make_product("PAN-1", category="kitchen")
    garden = Category.objects.get(slug="garden")
    response = admin_client.post(f"/admin/catalog/category/{garden.pk}/change/", {"name": "Garden & patio"})
    assert response.status_code == 302, response.content
    assert Category.objects.get(slug="garden").name == "Garden & patio"
    assert selectors.category_subtree_ids(slug="home")  # cached now
    response = admin_client.post(f"/admin/catalog/category/{garden.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Category.objects.filter(slug="garden").exists()
    # Deleting moved the tree's generation on: the cached subtree of `home` no longer holds it.
    assert garden.pk not in selectors.category_subtree_ids(slug="home")
    assert [c["slug"] for c in api_client.get("/api/v1/categories/").json()[1]["children"]] == ["kitchen"]


def test_a_category_in_use_is_not_deleted(tree):
    make_product("KNIFE-1", category="cutlery", active=False)
    for slug in ("cutlery", "kitchen"):  # a deactivated product, then a subcategory, hold them
        with pytest.raises(CategoryInUse) as exc:
            services.category_delete(slug=slug)
        assert exc.value.slug == slug
    with pytest.raises(CategoryNotFound):
        services.category_rename(slug="nope", name="x")
    assert Category.objects.filter(slug__in=["cutlery", "kitchen"]).count() == 2


def test_the_admin_bulk_delete_goes_through_the_service_and_refuses_categories_in_use(admin_client, tree):
    make_product("KNIFE-1", category="cutlery")

    def delete(*slugs):
        ids = list(Category.objects.filter(slug__in=slugs).values_list("pk", flat=True))
        return admin_client.post(
            "/admin/catalog/category/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
        )

    assert delete("garden", "cutlery").status_code == 200  # the admin names what protects cutlery
    assert Category.objects.filter(slug__in=["garden", "cutlery"]).count() == 2
    home_before = selectors.category_subtree_ids(slug="home")
    assert delete("garden", "books").status_code == 302
    assert not Category.objects.filter(slug__in=["garden", "books"]).exists()
    assert len(selectors.category_subtree_ids(slug="home")) == len(home_before) - 1


# --- one mapping of product fields ------------------------------------------------------------------

# The read-only stock inline's management form, as a browser posts it with the product screen.
INLINE_ADD = {"stock-TOTAL_FORMS": "0", "stock-INITIAL_FORMS": "0"}
INLINE_CHANGE = {"stock-TOTAL_FORMS": "1", "stock-INITIAL_FORMS": "1", "stock-0-product": "LAMP-1"}


def test_every_writer_names_a_product_s_fields_as_the_services_do():
    from contexts.catalog.forms import ProductAdminForm
    from contexts.catalog.serializers import ProductWriteSerializer

    assert set(ProductWriteSerializer().fields) == {"sku", *services.FIELDS}
    assert set(ProductFieldsForm.base_fields) == set(services.FIELDS)
    assert set(ProductAdminForm.base_fields) == {"sku", *services.FIELDS}
    conditions = {"if_match", "if_none_match"}
    assert set(services.products.product_update.__kwdefaults__) - conditions == set(services.FIELDS)


def test_the_admin_screen_writes_through_the_service_with_its_events(admin_client, tree):
    response = admin_client.post(
        "/admin/catalog/product/add/",
        {
            "sku": "LAMP-1",
            "name": "Lamp",
            "price": "39.00",
            "currency": "eur",  # people type codes in lower case; the form reads them in upper
            "category": "kitchen",
            "active": "on",
            "attributes": '{"colour": "black"}',
            "images": '["https://img.example/lamp.jpg"]',
            **INLINE_ADD,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(sku="LAMP-1")
    assert (product.currency, product.category.slug, product.attributes) == (
        "EUR",
        "kitchen",
        {"colour": "black"},
    )
    response = admin_client.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {
            "name": "Lamp",
            "price": "35.00",
            "currency": "EUR",
            "category": "",
            "attributes": "{}",
            "images": "[]",
            **INLINE_CHANGE,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    product.refresh_from_db()
    assert (product.price, product.category, product.is_active) == (Decimal("35.00"), None, False)
    types = list(OutboxMessage.objects.order_by("created_at").values_list("type", flat=True))
    assert types == [
        "catalog.ProductCreated.v1",
        "catalog.ProductPriceChanged.v1",
        "catalog.ProductDeactivated.v1",
    ]


def test_the_product_screen_shows_the_stored_values(admin_client, tree):
    make_product("LAMP-1", category="kitchen")
    pk = Product.objects.get(sku="LAMP-1").pk
    form = admin_client.get(f"/admin/catalog/product/{pk}/change/").context["adminform"].form
    assert form.initial["category"] == "kitchen"
    assert form.initial["active"] is True


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("YES", True), ("1", True), ("false", False), ("no", False), ("0", False)],
)
def test_yes_and_no_are_read_one_way(cell, expected):
    form = ProductFieldsForm(data={"active": cell}, present={"active"})
    assert form.is_valid(), form.errors
    assert form.changes() == {"active": expected}


def test_a_flag_that_is_neither_is_an_error_not_a_silent_no(tree):
    csv = "sku,name,price,currency,active\nA-1,Alpha,1.00,EUR,maybe\n"
    with pytest.raises(Exception) as exc:
        services.products_import_csv(text=csv)
    assert "line 2: active: Use true or false." in exc.value.messages
    assert not Product.objects.exists()


def test_the_csv_import_updates_only_the_columns_it_has(admin_client, tree):
    make_product("A-1", name="Alpha", category="kitchen", description="kept")
    csv = "sku,name,price,currency,category\nA-1,Alpha II,2.00,EUR,garden\nB-1,Beta,3.00,EUR,\n"
    assert services.products_import_csv(text=csv) == (1, 1)
    a = Product.objects.get(sku="A-1")
    assert (a.name, a.price, a.category.slug, a.description) == (
        "Alpha II",
        Decimal("2.00"),
        "garden",
        "kept",
    )
    assert Product.objects.get(sku="B-1").category is None
    upload = SimpleUploadedFile(
        "p.csv", b"sku,name,price,currency\n,No sku,1.00,EUR\n", content_type="text/csv"
    )
    response = admin_client.post("/admin/catalog/product/import-csv/", {"file": upload})
    assert b"sku: This field is required." in response.content


# --- the listing's cached counts --------------------------------------------------------------------


def test_listing_counts_are_cached_per_filter_and_exact_after_a_product_write(api_client, tree):
    for i in range(5):
        make_product(f"P-{i}", stock=i % 2, category="kitchen")

    def count(params):
        with CaptureQueriesContext(connection) as ctx:
            body = api_client.get(URL, params).json()
        return body["count"], sum(1 for q in ctx.captured_queries if "COUNT(" in q["sql"].upper())

    assert count({}) == (5, 1)
    assert count({"ordering": "price"}) == (5, 0)  # an ordering shares its filter's count
    assert count({"in_stock": "true"}) == (2, 1)
    assert count({"in_stock": "true"}) == (2, 0)
    make_product("P-9", category="kitchen")
    assert count({}) == (6, 1)  # a product written through the services: every count is exact again
    services.product_update(sku="P-9", active=False)
    assert count({}) == (5, 1)


def test_a_stock_change_may_leave_an_in_stock_count_stale_for_at_most_the_ttl(api_client, tree):
    make_product("P-1", stock=1)
    assert api_client.get(URL, {"in_stock": "true"}).json()["count"] == 1
    api.stock_reserve(key="k", lines=[api.StockLine(sku="P-1", quantity=1)], ttl=60)
    stale = api_client.get(URL, {"in_stock": "true"}).json()
    assert stale["results"] == []  # the page itself is never stale
    assert stale["count"] == 1  # the count may be, until it expires
    assert selectors.COUNT_TTL_SECONDS <= 60


# --- why a reservation call changed nothing: one table ------------------------------------------------

NOW = timezone.now()


def _reservation(status: str, *, expired: bool = False) -> None:
    make_product("A", stock=5)
    expires_at = NOW - dt.timedelta(seconds=1) if expired else NOW + dt.timedelta(minutes=5)
    reservation = Reservation.objects.create(key="k", status=status, expires_at=expires_at)
    ReservationLine.objects.create(reservation=reservation, sku="A", quantity=1)


@pytest.mark.parametrize(
    ("status", "expired", "answers"),
    [
        # reserve, extend, commit, release
        ("active", False, ("active", "active", "ReservationNotFound", "ReservationNotFound")),
        ("active", True, ("ReservationExpired", "ReservationExpired", "ReservationExpired", "active")),
        ("committed", False, ("committed", "committed", "committed", "ReservationCommitted")),
        (
            "released",
            False,
            ("ReservationNotFound", "ReservationNotFound", "ReservationNotFound", "released"),
        ),
        ("expired", False, ("ReservationExpired", "ReservationExpired", "ReservationExpired", "expired")),
    ],
)
def test_reservation_unchanged_answers_by_action_and_status(status, expired, answers):
    _reservation(status, expired=expired)
    for action, expected in zip(selectors.ReservationAction, answers, strict=True):
        try:
            got = selectors.reservation_unchanged(key="k", action=action, now=NOW).status
        except api.CatalogError as exc:
            got = type(exc).__name__
        assert got == expected, action


def test_reservation_unchanged_reports_other_lines_and_unknown_keys():
    _reservation("active")
    with pytest.raises(api.ReservationConflict):
        selectors.reservation_unchanged(
            key="k", action=selectors.ReservationAction.RESERVE, now=NOW, lines={"A": 2}
        )
    with pytest.raises(api.ReservationNotFound):
        selectors.reservation_unchanged(key="other", action=selectors.ReservationAction.COMMIT, now=NOW)
