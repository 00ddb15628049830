"""REST routes of the shipping context (under /api/v1/). Storefront clients depend on these exact paths."""

from django.urls import path

from contexts.shipping import views

# The shipment id is matched as text and looked up by the view: a malformed id is a 404 like an unknown
# one, and an unsafe method on the route is a 405, not a 404.
urlpatterns = [
    path("shipments/", views.ShipmentListApi.as_view(), name="shipping-shipments"),
    path("shipments/<str:shipment_id>/", views.ShipmentDetailApi.as_view(), name="shipping-shipment"),
    path("shipping/webhooks/<str:carrier>/", views.ShippingWebhookApi.as_view(), name="shipping-webhook"),
]
