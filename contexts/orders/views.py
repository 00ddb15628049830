"""REST endpoints of the cart and orders: thin — parse, call a service or selector, render.

A customer reaches only their own cart and orders; another user's order or cart line answers 404, as
one that does not exist. Checkout requires an Idempotency-Key and answers 202: the saga does the rest.
"""

import hashlib
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from django.core import signing
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import pagination, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from contexts.orders import selectors
from contexts.orders.data import (
    CartEmpty,
    CartFull,
    CartItemNotFound,
    MixedCurrencies,
    OrderNotCancellable,
    OrderNotFound,
    ProductUnavailable,
    QuantityLimitExceeded,
    ShippingAddressRequired,
)
from contexts.orders.serializers import (
    CartItemCreateSerializer,
    CartItemUpdateSerializer,
    CartSerializer,
    CheckoutSerializer,
    OrderListItemSerializer,
    OrderQuerySerializer,
    OrderSerializer,
)
from contexts.orders.services import cart, checkout, orders
from integration.edge.pagination import whole_number
from integration.edge.schema import problems
from integration.idempotency import idempotent


def _cart(request, status_code=status.HTTP_200_OK) -> Response:
    return Response(CartSerializer(selectors.cart_priced(user_id=request.user.id)).data, status=status_code)


class CartApi(APIView):
    @extend_schema(operation_id="cart_retrieve", responses={200: CartSerializer})
    def get(self, request):
        """The caller's cart, priced now, with a warning on each line whose stock is short."""
        return _cart(request)


class CartItemsApi(APIView):
    @extend_schema(
        operation_id="cart_items_create",
        request=CartItemCreateSerializer,
        responses={201: CartSerializer, **problems(ProductUnavailable, QuantityLimitExceeded, CartFull)},
    )
    def post(self, request):
        """Add a SKU to the cart (onto its line if it is there already); answers the cart."""
        body = CartItemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cart.cart_item_add(user_id=request.user.id, **body.validated_data)
        return _cart(request, status.HTTP_201_CREATED)


class CartItemApi(APIView):
    @extend_schema(
        operation_id="cart_items_partial_update",
        request=CartItemUpdateSerializer,
        responses={200: CartSerializer, **problems(CartItemNotFound)},
    )
    def patch(self, request, item_id: uuid.UUID):
        body = CartItemUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cart.cart_item_update(user_id=request.user.id, item_id=item_id, **body.validated_data)
        return _cart(request)

    @extend_schema(operation_id="cart_items_destroy", responses={204: None})
    def delete(self, request, item_id: uuid.UUID):
        """Remove the line from the caller's cart; 204 also when it is not there (DELETE is idempotent,
        and a line of another cart is never touched)."""
        cart.cart_item_remove(user_id=request.user.id, item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderCursorPagination(pagination.CursorPagination):
    """Newest first; `cursor` is opaque, `page_size` 1 up (at most 100 served)."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and whole_number(raw, low=1, high=10**9 - 1) is None:
            raise ValidationError(
                {
                    "page_size": [
                        f"A page size is a whole number from 1 (at most {self.max_page_size} are served)."
                    ]
                }
            )
        return super().get_page_size(request)

    # Cursors are signed: one this list never gave out (forged, truncated, from another list) is told
    # apart from a real one before any of it reaches a query.
    _signer = signing.Signer(salt="orders.cursor")

    def encode_cursor(self, cursor):
        url = super().encode_cursor(cursor)
        raw = parse_qs(urlsplit(url).query)[self.cursor_query_param][0]
        return replace_query_param(url, self.cursor_query_param, self._signer.sign(raw))

    def decode_cursor(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            unsigned = self._signer.unsign(raw)
        except signing.BadSignature:
            raise NotFound(self.invalid_cursor_message) from None
        return super().decode_cursor(SimpleNamespace(query_params={self.cursor_query_param: unsigned}))

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor this list never gave out (any string is one by the schema) reads as past the end:
        # an empty page, as the page-number lists answer a page past the last.
        self.unknown_cursor = False
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            self.unknown_cursor = True
            return []

    def get_paginated_response(self, data):
        if self.unknown_cursor:
            return Response({"next": None, "previous": None, "results": []})
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        cursor, size = super().get_schema_operation_parameters(view)
        size["schema"].update(minimum=1, maximum=10**9 - 1)
        return [cursor, size]


def _location(order) -> str:
    return f"/api/v1/orders/{order.id}/"


class OrderListCreateApi(GenericAPIView):
    serializer_class = OrderListItemSerializer
    pagination_class = OrderCursorPagination

    @extend_schema(operation_id="orders_list", parameters=[OrderQuerySerializer])
    def get(self, request):
        """The caller's order history, newest first, with cursor pagination and a status filter."""
        query = OrderQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.orders_of(user_id=request.user.id, **query.validated_data))
        return self.get_paginated_response(OrderListItemSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_checkout",
        request=CheckoutSerializer,
        responses={
            202: OpenApiResponse(
                OrderSerializer, description="Accepted: the order is pending; its saga runs."
            ),
            **problems(
                CartEmpty, ProductUnavailable, MixedCurrencies, QuantityLimitExceeded, ShippingAddressRequired
            ),
        },
        parameters=[
            OpenApiParameter(
                "Location", str, OpenApiParameter.HEADER, response=[202], description="The order."
            )
        ],
    )
    @idempotent
    def post(self, request):
        """Check out the cart (or `lines`): a pending order priced by the server; the saga reserves stock,
        authorizes the payment, creates the shipment and captures. Poll the order for its outcome."""
        body = CheckoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = checkout.order_place(
            user_id=request.user.id,
            # The request's fingerprint is part of the name: a re-run of this request (after a crash)
            # finds its order, while the key reused for another checkout once purged (24 h) is a new one.
            checkout_key=":".join(
                (
                    str(request.user.id),
                    request.idempotency_fingerprint,
                    hashlib.sha256(request.idempotency_key.encode()).hexdigest(),
                )
            ),
            **body.validated_data,
        )
        order = selectors.order_visible(order_id=order.id, user_id=request.user.id)
        return Response(
            OrderSerializer(order).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": _location(order)},
        )


class OrderDetailApi(APIView):
    @extend_schema(
        operation_id="orders_retrieve", responses={200: OrderSerializer, **problems(OrderNotFound)}
    )
    def get(self, request, order_id: uuid.UUID):
        """Status, lines, totals, cancellation_reason and the timeline of status changes."""
        return Response(
            OrderSerializer(selectors.order_visible(order_id=order_id, user_id=request.user.id)).data
        )


class OrderCancelApi(APIView):
    @extend_schema(
        operation_id="orders_cancel",
        request=None,
        responses={202: OrderSerializer, **problems(OrderNotFound, OrderNotCancellable)},
    )
    def post(self, request, order_id: uuid.UUID):
        """Cancel a pending or ready_to_ship order: 202, and the order becomes cancelled
        (customer_request) once the saga has compensated. 409 once shipped."""
        orders.order_cancel(order_id=order_id, user_id=request.user.id)
        order = selectors.order_visible(order_id=order_id, user_id=request.user.id)
        return Response(OrderSerializer(order).data, status=status.HTTP_202_ACCEPTED)
