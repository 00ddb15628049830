"""A throwaway app whose endpoints opt into Idempotency-Key, for the mechanism's own tests."""

from django.apps import AppConfig


class IdemAppConfig(AppConfig):
    name = "tests.idemapp"
    label = "testidem"
    default_auto_field = "django.db.models.BigAutoField"
