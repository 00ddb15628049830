"""The project's URLs plus test-only endpoints of the bus test app."""

from django.urls import include, path

urlpatterns = [
    path("", include("config.urls")),
    path("api/testbus/", include("tests.busapp.urls")),
]
