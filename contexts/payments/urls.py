"""REST routes of the payments context. A malformed payment id matches no route: 404."""

from django.urls import path

from contexts.payments import views, webhooks

urlpatterns = [
    path("payments/", views.PaymentListApi.as_view(), name="payments-list"),
    path("payments/<uuid:payment_id>/", views.PaymentDetailApi.as_view(), name="payments-detail"),
    path("payments/<uuid:payment_id>/invoice/", views.PaymentInvoiceApi.as_view(), name="payments-invoice"),
    path("payments/<uuid:payment_id>/refunds/", views.PaymentRefundApi.as_view(), name="payments-refunds"),
    path("payments/webhooks/<str:provider>/", webhooks.PaymentWebhookView.as_view(), name="payments-webhook"),
]
