"""Test-only endpoints that opt into Idempotency-Key: a create (201), a flaky one (500), a refusal (4xx).

Each run of a view writes one Effect row in its own transaction, as a service would, so the tests
count how often a view really ran.
"""

import time
import uuid

from django.db import transaction
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from integration.idempotency import idempotent
from tests.idemapp.models import Effect


class ChargeSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    # Seconds to keep running after the effect is written: holds the key in flight for the tests.
    hold = serializers.FloatField(min_value=0, max_value=5, default=0)


def _effect(view: str, request, amount=None) -> Effect:
    with transaction.atomic():
        return Effect.objects.create(view=view, user_id=str(request.user.pk), amount=amount)


class ChargeCreateApi(APIView):
    """POST {"amount": "5.00", "hold": 0.3} -> 201 {"id", "amount", "key"} with a Location."""

    @idempotent
    def post(self, request):
        data = ChargeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        effect = _effect("charge", request, data.validated_data["amount"])
        time.sleep(data.validated_data["hold"])
        body = {
            "id": effect.pk,
            "amount": str(effect.amount),
            "key": request.idempotency_key,
            # Differs on every run, so a replay is told apart from a second run by its body.
            "nonce": str(uuid.uuid4()),
        }
        return Response(body, status=201, headers={"Location": f"/api/testidem/charges/{effect.pk}"})


class FlakyApi(APIView):
    """Writes its effect, then fails `failures` times (500 by exception, or a returned 503), then 201."""

    failures = 0
    returned_status: int | None = None

    @idempotent
    def post(self, request):
        _effect("flaky", request)
        if FlakyApi.failures > 0:
            FlakyApi.failures -= 1
            if FlakyApi.returned_status:
                return Response({"detail": "unavailable"}, status=FlakyApi.returned_status)
            raise RuntimeError("flaky view failed")
        return Response({"ok": True}, status=201)


urlpatterns = [
    path("charges/", ChargeCreateApi.as_view()),
    path("flaky/", FlakyApi.as_view()),
]
