"""REST endpoints of the catalog: thin — parse, call a selector or service, render."""

from django.utils.http import parse_etags
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.catalog import selectors, services
from contexts.catalog.data import (
    CategoryNotFound,
    InvalidLines,
    ProductAlreadyExists,
    ProductChanged,
    StockAdjustmentRejected,
    StockLimitExceeded,
)
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
from integration.edge.schema import OPTIONAL_AUTH, problems


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


# --- OpenAPI only: shapes the views render or read that no serializer of theirs names ---------------

_ETAG = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200, 201], description="The product's entity tag."
)


def _condition(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, OpenApiParameter.HEADER, description=f"RFC 9110, section 13.1. {description}"
    )


@extend_schema_serializer(exclude_fields=["sku"], component_name="ProductChanges")
class _ProductChanges(ProductWriteSerializer):
    """Any of a product's fields but its SKU, which is in the URL and cannot change."""


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
        responses={201: ProductDetailSerializer, **problems(ProductAlreadyExists, CategoryNotFound)},
        parameters=[_ETAG],
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
        parameters=[_ETAG, _condition("If-None-Match", "304 when it names the current ETag, or is *.")],
        auth=OPTIONAL_AUTH,  # staff also see inactive products
    )
    def get(self, request, sku: str):
        staff = has_role(request.user, STAFF)
        return _detail_if_modified(selectors.product_get(sku=sku, include_inactive=staff), request)

    @extend_schema(
        operation_id="products_partial_update",
        request=_ProductChanges,
        responses={
            200: ProductDetailSerializer,
            **problems(ProductAlreadyExists, CategoryNotFound, ProductChanged),
        },
        parameters=[
            _ETAG,
            _condition("If-Match", "Apply only if the product's ETag is one of these (or *); else 412."),
            _condition("If-None-Match", "With *: apply only if the product does not exist (it does: 412)."),
        ],
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


@extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/CategoryNode"}})
class _Subcategories(serializers.ListField):
    """A node's children, each a CategoryNode itself (for the schema: the view renders plain dicts)."""


class CategoryTreeApi(APIView):
    """The category tree: each node has slug, name and its children."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="categories_tree",
        responses={
            200: inline_serializer(
                "CategoryNode",
                {
                    "slug": serializers.SlugField(),
                    "name": serializers.CharField(),
                    "children": _Subcategories(),
                },
                many=True,
            )
        },
    )
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
        operation_id="inventory_adjust",
        request=StockAdjustmentSerializer,
        responses={
            201: StockSerializer,
            **problems(InvalidLines, StockAdjustmentRejected, StockLimitExceeded),
        },
    )
    def post(self, request, sku: str):
        body = StockAdjustmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stock = services.stock_adjust(sku=sku, actor=_actor(request), **body.validated_data)
        return Response(StockSerializer(stock).data, status=status.HTTP_201_CREATED)
