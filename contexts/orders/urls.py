"""REST routes of the orders context: the cart and orders. A malformed id matches no route: 404."""

from django.urls import path

from contexts.orders import views

urlpatterns = [
    path("cart/", views.CartApi.as_view(), name="orders-cart"),
    path("cart/items/", views.CartItemsApi.as_view(), name="orders-cart-items"),
    path("cart/items/<uuid:item_id>/", views.CartItemApi.as_view(), name="orders-cart-item"),
    path("orders/", views.OrderListCreateApi.as_view(), name="orders-list"),
    path("orders/<uuid:order_id>/", views.OrderDetailApi.as_view(), name="orders-detail"),
    path("orders/<uuid:order_id>/cancel/", views.OrderCancelApi.as_view(), name="orders-cancel"),
]
