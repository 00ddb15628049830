"""REST routes of the catalog context."""

urlpatterns: list = []
