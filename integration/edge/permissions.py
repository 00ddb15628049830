"""DRF permissions every context can use: roles come from the token's claims, never the user table."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

STAFF = "staff"
CUSTOMER = "customer"


def has_role(user, role: str) -> bool:
    """True if the authenticated caller carries `role` in its token (or, for a DB user, its roles)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return role in tuple(getattr(user, "roles", ()) or ())


class IsStaff(BasePermission):
    """Operators only: the token must carry the `staff` role. Customers get 403, anonymous 401."""

    message = "This endpoint is for staff only."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, STAFF)


class IsStaffOrReadOnly(BasePermission):
    """Anyone may read (GET, HEAD, OPTIONS); writing needs the `staff` role."""

    message = "Only staff may change this resource."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or has_role(request.user, STAFF)
