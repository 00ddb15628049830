"""Tables of the users context: the custom user model (UUID key, email as the login).

Only this context reads these tables; every other context knows a user by id and token claims.
"""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from integration.text import StorableJSONDecoder, normalize_email


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """The one normal form of an address (integration.text.normalize_email), not just a lower-cased
        domain as Django's: one account per address however it is spelled."""
        return normalize_email(email or "")

    def _create(self, email: str, password: str | None, **fields):
        if not email:
            raise ValueError("an email is required")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)

    def with_email(self, email: str):
        """Users whose address is `email` in its normal form (lookalike spellings included), through
        the LOWER(email) unique index (email__iexact compiles to UPPER(...) on PostgreSQL, which no
        index serves). Every login door, the API's and the admin's, looks users up here."""
        return self.alias(email_lower=Lower("email")).filter(email_lower=self.normalize_email(email))

    def get_by_natural_key(self, username):
        return self.with_email(username).get()


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +14155550100")
    email_verified = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False, help_text="Operators: staff endpoints and the admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Every token issued before this instant is rejected (logout everywhere, password change).
    tokens_valid_after = models.DateTimeField(null=True, blank=True)
    # The decoder refuses NUL and lone surrogates that an operator could type into the admin's field.
    shipping_address = models.JSONField(null=True, blank=True, decoder=StorableJSONDecoder)
    locale = models.CharField(max_length=16, default="en")
    marketing_opt_in = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "users_user"
        constraints = [models.UniqueConstraint(Lower("email"), name="users_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def normalize_username(cls, username: str) -> str:
        # The username is the email: model validation (the admin's forms) stores its one normal form.
        return normalize_email(username or "")

    @property
    def roles(self) -> tuple[str, ...]:
        return ("customer", "staff") if self.is_staff else ("customer",)
