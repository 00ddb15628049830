"""REST routes of the notifications context (under /api/v1/)."""

from django.urls import path

from contexts.notifications import views

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="notifications-list"),
    path("notifications/preferences/", views.PreferencesApi.as_view(), name="notifications-preferences"),
    path("notifications/devices/", views.DeviceListCreateApi.as_view(), name="notifications-devices"),
    path(
        "notifications/devices/<str:device_id>/",
        views.DeviceDetailApi.as_view(),
        name="notifications-device",
    ),
]
