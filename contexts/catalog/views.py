"""REST endpoints of the catalog: thin — parse, call a selector or service, render."""

from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.catalog import selectors, services
from contexts.catalog.serializers import (
    MovementSerializer,
    ProductDetailSerializer,
    ProductListItemSerializer,
    ProductQuerySerializer,
    ProductWriteSerializer,
    StockAdjustmentSerializer,
    StockSerializer,
)
from integration.edge.permissions import STAFF, IsStaff, IsStaffOrReadOnly, has_role


def _actor(request) -> str:
    return f"user:{getattr(request.user, 'id', None) or 'unknown'}"


def _tags(request, header: str) -> tuple[str, ...] | None:
    """The entity tags of a conditional header (RFC 9110 section 13.1): ("*",) for any, () for a value
    that names none (a malformed one, which then matches nothing); None when the header is absent."""
    raw = request.headers.get(header)
    return None if raw is None else tuple(parse_etags(raw))


def _detail(product, *, status_code: int = status.HTTP_200_OK, headers: dict | None = None) -> Response:
    etag = selectors.product_etag(product)
    return Response(
        ProductDetailSerializer(product).data, status=status_code, headers={"ETag": etag, **(headers or {})}
    )


def _detail_if_modified(product, request) -> Response:
    """A GET's answer: 304 with no body when If-None-Match names the current tag (weak comparison) or
    is "*" (RFC 9110 section 13.1.2). Only GET and HEAD ever answer 304; writes evaluate conditions in
    the service and fail with 412."""
    etag = selectors.product_etag(product)
    matches = _tags(request, "If-None-Match") or ()
    if "*" in matches or etag in {tag.removeprefix("W/") for tag in matches}:
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return _detail(product)


class ProductListCreateApi(GenericAPIView):
    """GET: the public, paginated storefront listing. POST: staff create a product."""

    permission_classes = [IsStaffOrReadOnly]
    serializer_class = ProductListItemSerializer

    @extend_schema(operation_id="products_list", parameters=[ProductQuerySerializer])
    def get(self, request):
        query = ProductQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.ProductSkus(filters=query.filters()))
        rows = selectors.product_rows(skus=list(page))
        return self.get_paginated_response(ProductListItemSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="products_create",
        request=ProductWriteSerializer,
        responses={201: ProductDetailSerializer},
    )
    def post(self, request):
        body = ProductWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        product = services.product_create(**body.validated_data)
        product = selectors.product_get(sku=product.sku, include_inactive=True)
        # Conditional headers are not evaluated on a create: the collection has no entity tag.
        return _detail(
            product,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"{request.path}{product.sku}/"},
        )


class ProductDetailApi(APIView):
    """GET: one product, with an ETag (304 on If-None-Match). PATCH: staff update or deactivate it;
    with If-Match (the ETag last read) it applies only if nobody changed the product since, else 412."""

    permission_classes = [IsStaffOrReadOnly]

    @extend_schema(
        operation_id="products_retrieve",
        responses={200: ProductDetailSerializer, 304: OpenApiResponse(description="Not modified (ETag)")},
    )
    def get(self, request, sku: str):
        staff = has_role(request.user, STAFF)
        return _detail_if_modified(selectors.product_get(sku=sku, include_inactive=staff), request)

    @extend_schema(
        operation_id="products_partial_update",
        request=ProductWriteSerializer,
        responses={200: ProductDetailSerializer},
    )
    def patch(self, request, sku: str):
        body = ProductWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.product_update(
            sku=sku,
            if_match=_tags(request, "If-Match"),
            if_none_match=_tags(request, "If-None-Match"),
            **body.validated_data,
        )
        return _detail(selectors.product_get(sku=sku, include_inactive=True))


class CategoryTreeApi(APIView):
    """The category tree: each node has slug, name and its children."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="categories_tree", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(selectors.category_tree())


class StockDetailApi(APIView):
    """Staff: a SKU's on hand, reserved and available, with its most recent ledger movements."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="inventory_retrieve",
        responses={
            200: inline_serializer(
                "StockDetail",
                {
                    **StockSerializer().get_fields(),
                    "ledger": MovementSerializer(many=True),
                },
            )
        },
    )
    def get(self, request, sku: str):
        stock = selectors.stock_get(sku=sku)
        body = StockSerializer(stock).data
        body["ledger"] = MovementSerializer(selectors.stock_ledger(sku=sku), many=True).data
        return Response(body)


class StockAdjustmentApi(APIView):
    """Staff: a receipt or a correction of on hand, with a required reason that goes to the ledger."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="inventory_adjust", request=StockAdjustmentSerializer, responses={201: StockSerializer}
    )
    def post(self, request, sku: str):
        body = StockAdjustmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stock = services.stock_adjust(sku=sku, actor=_actor(request), **body.validated_data)
        return Response(StockSerializer(stock).data, status=status.HTTP_201_CREATED)
