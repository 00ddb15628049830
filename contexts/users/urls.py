"""REST routes of the users context."""

urlpatterns: list = []
