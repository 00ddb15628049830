"""REST endpoints of the notifications context: the caller's preferences, devices and delivery log.

Every endpoint acts on the caller's own things only (the token's user id); another user's device is
a 404.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.notifications import selectors, services
from contexts.notifications.data import DeviceNotFound
from contexts.notifications.serializers import (
    DeviceRegisterSerializer,
    DeviceSerializer,
    NotificationPreferencesSerializer,
    NotificationSerializer,
)
from contexts.users import api as users
from integration.edge.schema import problems


class PreferencesApi(APIView):
    @extend_schema(responses={200: NotificationPreferencesSerializer, **problems(users.UserNotFound)})
    def get(self, request):
        preferences = selectors.preferences_get(user_id=request.user.id)
        return Response(NotificationPreferencesSerializer.render(preferences))

    @extend_schema(
        request=NotificationPreferencesSerializer, responses={200: NotificationPreferencesSerializer}
    )
    def put(self, request):
        body = NotificationPreferencesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        preferences = services.preferences_set(user_id=request.user.id, preferences=body.preferences())
        return Response(NotificationPreferencesSerializer.render(preferences))


class NotificationListApi(GenericAPIView):
    """The caller's messages, newest first."""

    serializer_class = NotificationSerializer

    def get(self, request):
        page = self.paginate_queryset(selectors.notifications_for_user(user_id=request.user.id))
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)


class DeviceListCreateApi(GenericAPIView):
    """GET: the caller's push devices. POST: register one (201; 200 if the caller already had it)."""

    serializer_class = DeviceSerializer

    def get(self, request):
        page = self.paginate_queryset(selectors.devices_for_user(user_id=request.user.id))
        return self.get_paginated_response(DeviceSerializer(page, many=True).data)

    @extend_schema(request=DeviceRegisterSerializer, responses={200: DeviceSerializer, 201: DeviceSerializer})
    def post(self, request):
        body = DeviceRegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        device, created = services.device_register(user_id=request.user.id, **body.validated_data)
        return Response(
            DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DeviceDetailApi(APIView):
    @extend_schema(responses={204: None, **problems(DeviceNotFound)})
    def delete(self, request, device_id):
        services.device_remove(user_id=request.user.id, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
