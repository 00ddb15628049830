"""REST endpoints of payments: thin — parse, call a selector or service, render.

Customers see their own payments; staff see everyone's. Another user's payment answers 404, as one that
does not exist. Refunds are for staff, under an Idempotency-Key.
"""

import hashlib
import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.payments import selectors, services
from contexts.payments.data import (
    InvoiceNotFound,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentStateConflict,
    RefundExceedsCaptured,
)
from contexts.payments.serializers import (
    InvoiceSerializer,
    PaymentQuerySerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    StaffPaymentSerializer,
)
from integration.edge.permissions import STAFF, IsStaff, has_role
from integration.edge.schema import problems
from integration.idempotency import idempotent


def _scope(request) -> uuid.UUID | None:
    """Whose payments the caller may see: its own, or (None) everyone's for staff."""
    return None if has_role(request.user, STAFF) else request.user.id


def _serializer(request):
    return StaffPaymentSerializer if has_role(request.user, STAFF) else PaymentSerializer


class PaymentListApi(GenericAPIView):
    """GET: the caller's payments (staff: everyone's), newest first, with refunds and invoice number."""

    serializer_class = PaymentSerializer

    @extend_schema(operation_id="payments_list", parameters=[PaymentQuerySerializer])
    def get(self, request):
        query = PaymentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(
            selectors.payments_visible(user_id=_scope(request), **query.validated_data)
        )
        return self.get_paginated_response(_serializer(request)(page, many=True).data)


class PaymentDetailApi(APIView):
    @extend_schema(
        operation_id="payments_retrieve", responses={200: PaymentSerializer, **problems(PaymentNotFound)}
    )
    def get(self, request, payment_id: uuid.UUID):
        payment = selectors.payment_visible(payment_id=payment_id, user_id=_scope(request))
        return Response(_serializer(request)(payment).data)


class PaymentInvoiceApi(APIView):
    @extend_schema(
        operation_id="payments_invoice_retrieve",
        responses={200: InvoiceSerializer, **problems(PaymentNotFound, InvoiceNotFound)},
    )
    def get(self, request, payment_id: uuid.UUID):
        invoice = selectors.invoice_visible(payment_id=payment_id, user_id=_scope(request))
        return Response(InvoiceSerializer(invoice).data)


class PaymentRefundApi(APIView):
    """POST (staff): refund part or the rest of a captured payment. A refund over what remains is a 409
    whose problem body carries `remaining`."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="payments_refunds_create",
        request=RefundCreateSerializer,
        responses={
            201: RefundSerializer,
            **problems(
                PaymentNotFound, PaymentStateConflict, RefundExceedsCaptured, PaymentProviderUnavailable
            ),
        },
    )
    @idempotent
    def post(self, request, payment_id: uuid.UUID):
        body = RefundCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The service's key is derived from the caller's Idempotency-Key (scoped to the caller), so a
        # request retried after a crash repeats the same keyed refund at the provider, never a second one.
        scoped = f"{request.user.id}:{request.idempotency_key}".encode()
        refund = services.payment_refund(
            key=f"http-refund:{hashlib.sha256(scoped).hexdigest()}",
            payment_id=payment_id,
            amount=body.validated_data["amount"],
            reason=body.validated_data["reason"],
            actor=f"user:{request.user.id}",
        )
        return Response(
            RefundSerializer(refund).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/payments/{payment_id}/"},
        )
