"""Root URLs: the edge's probes and docs, the admin, and each context's routes under /api/v1/."""

from django.contrib import admin
from django.urls import include, path

from integration.edge.ratelimit import login_limited

# Operators' passwords get the same guessing limits as the API's login.
admin.site.login = login_limited(admin.site.login)

urlpatterns = [
    path("", include("integration.edge.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("contexts.users.urls")),
    path("api/v1/", include("contexts.catalog.urls")),
]
