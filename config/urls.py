"""Root URLs: the edge's probes and docs, the admin, and each local context's routes under /api/v1/."""

from django.conf import settings
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
]
# Each context's public routes, where its tables are (CONTEXTS_LOCAL): a request for an extracted
# context's routes that reaches this deployment is a 404, never a query of tables it does not have.
urlpatterns += [path("api/v1/", include(f"contexts.{context}.urls")) for context in settings.CONTEXTS_LOCAL]
