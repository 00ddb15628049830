"""Routes the edge itself serves: probes and the API schema/docs."""

from django.urls import path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from integration.edge import health

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("api/health", health.health, name="api-health"),
    path("api/ready", health.ready, name="api-ready"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs pages are HTML templates for GET; DRF would render OPTIONS with no template (a 500).
    path("api/docs/", require_safe(SpectacularSwaggerView.as_view(url_name="schema")), name="docs"),
    path("api/redoc/", require_safe(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
]
