"""The project's URLs plus test-only endpoints of the bus and idempotency test apps."""

from django.urls import include, path

urlpatterns = [
    path("", include("config.urls")),
    path("api/testbus/", include("tests.busapp.urls")),
    path("api/testidem/", include("tests.idemapp.urls")),
]
