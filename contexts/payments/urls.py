"""REST routes of the payments context."""

from django.urls import path

from contexts.payments import webhooks

urlpatterns = [
    path("payments/webhooks/<str:provider>/", webhooks.PaymentWebhookView.as_view(), name="payments-webhook"),
]
