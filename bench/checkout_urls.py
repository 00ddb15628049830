"""Benchmark-only URLs: the project's, plus the bare baseline of checkout's answer time — a DRF endpoint
behind the same middleware, authentication and throttle, doing one transaction of a `SELECT … FOR
UPDATE` and an insert. It exists only under bench.checkout_settings."""

import uuid

from django.db import transaction
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.orders.models import Cart, CartItem


class BareLockAndInsert(APIView):
    def post(self, request):
        with transaction.atomic():
            cart = Cart.objects.select_for_update().get(user_id=request.user.id)
            item = CartItem.objects.create(cart=cart, sku=uuid.uuid4().hex[:20], quantity=1)
        return Response({"id": str(item.id)}, status=201)


urlpatterns = [
    path("", include("config.urls")),
    path("bench/bare/lock-insert/", BareLockAndInsert.as_view()),
]
