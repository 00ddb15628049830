"""Root URLs: the edge's probes and docs, the admin, and each context's routes under /api/v1/."""

from django.contrib import admin
from django.urls import include, path

from integration.edge.ratelimit import login_limited, password_change_limited

# Operators' passwords get the same guessing limits as the API's: the login form and the password
# change form (which checks the current password) spend the account's one budget.
admin.site.login = login_limited(admin.site.login)
admin.site.password_change = password_change_limited(admin.site.password_change)

urlpatterns = [
    path("", include("integration.edge.urls")),
    # Each served context's api for other processes of the deployment (service token; not in the schema).
    path("", include("integration.edge.internal")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("contexts.users.urls")),
    path("api/v1/", include("contexts.catalog.urls")),
    path("api/v1/", include("contexts.payments.urls")),
    path("api/v1/", include("contexts.shipping.urls")),
    path("api/v1/", include("contexts.notifications.urls")),
    path("api/v1/", include("contexts.orders.urls")),
]
