"""Test-only endpoints: publish an event from a request; raise errors of each kind."""

from django.db import transaction
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from integration import bus
from tests.busapp import events


class PingSerializer(serializers.Serializer):
    n = serializers.IntegerField(min_value=0)


class PingApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        data = PingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            event_id = bus.publish(events.Pinged(n=data.validated_data["n"]))
        return Response({"event_id": str(event_id)}, status=201)


class PrivateApi(APIView):
    def get(self, request):
        return Response({"ok": True})


class BoomApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internal detail that must not leak")


urlpatterns = [
    path("ping/", PingApi.as_view()),
    path("private/", PrivateApi.as_view()),
    path("boom/", BoomApi.as_view()),
]
