"""REST routes of the catalog context."""

from django.urls import path

from contexts.catalog import views

# A SKU may contain dots and dashes, so it is matched up to the next slash.
urlpatterns = [
    path("products/", views.ProductListCreateApi.as_view(), name="catalog-products"),
    path("products/<str:sku>/", views.ProductDetailApi.as_view(), name="catalog-product"),
    path("categories/", views.CategoryTreeApi.as_view(), name="catalog-categories"),
    path("inventory/<str:sku>/", views.StockDetailApi.as_view(), name="catalog-stock"),
    path("inventory/<str:sku>/adjustments/", views.StockAdjustmentApi.as_view(), name="catalog-stock-adjust"),
]
