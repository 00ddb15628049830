"""Demo data of the users context: the operator account named in the README (idempotent)."""

from django.conf import settings

from contexts.users.models import User


def seed(out) -> None:
    email = settings.DEMO_ADMIN_EMAIL
    if User.objects.with_email(email).exists():
        out.write(f"operator {email} already exists")
        return
    User.objects.create_superuser(
        email, settings.DEMO_ADMIN_PASSWORD, first_name="Demo", last_name="Operator"
    )
    out.write(f"created operator {email} (password from DEMO_ADMIN_PASSWORD)")
