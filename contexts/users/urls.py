"""REST routes of the users context (under /api/v1/). Storefront clients depend on these exact paths."""

from django.urls import path

from contexts.users import views

urlpatterns = [
    path("auth/register/", views.UserRegisterApi.as_view(), name="auth-register"),
    path("auth/token/", views.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", views.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout/", views.LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllApi.as_view(), name="auth-logout-all"),
    path("users/", views.StaffUserListApi.as_view(), name="users-list"),
    path("users/me/", views.UserMeApi.as_view(), name="users-me"),
    path("users/me/password/", views.UserPasswordChangeApi.as_view(), name="users-me-password"),
]
