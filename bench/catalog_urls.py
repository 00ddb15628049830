"""Benchmark-only URLs: the project's, plus a bare DRF list and detail over the same product table.

The baselines are what a plain DRF tutorial would write (ModelSerializer, generic views, default
pagination), so the storefront's ratio to them shows the cost of its filters, joins and ETags. They
exist only under bench.catalog_settings, never in the production URL map.
"""

from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from contexts.catalog.models import Product


class BareProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["sku", "name", "slug", "price", "currency", "category", "images"]


class BareProductList(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = BareProductSerializer

    def get_queryset(self):
        qs = Product.objects.filter(is_active=True).order_by("price", "sku")
        category = self.request.query_params.get("category")
        return qs.filter(category_id=int(category)) if category else qs


class BareProductDetail(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = BareProductSerializer
    queryset = Product.objects.all()
    lookup_field = "sku"


urlpatterns = [
    path("", include("config.urls")),
    path("bench/bare/products/", BareProductList.as_view()),
    path("bench/bare/products/<str:sku>/", BareProductDetail.as_view()),
]
