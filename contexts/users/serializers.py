"""Request and response shapes of the users API.

Only the fields listed here are ever read from input: anything else a client sends (is_staff,
is_superuser, id, email_verified, ...) is ignored.
"""

from django.core.validators import RegexValidator
from rest_framework import serializers

from integration.edge.address import AddressField, validate_e164
from integration.text import canonical_email

# A BCP 47 language tag as browsers send it: "en", "de-AT", "pt-BR", "zh-Hant".
validate_locale = RegexValidator(
    r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z", message="Enter a language tag such as en or de-AT."
)


def _password_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=128, style={"input_type": "password"}, **kwargs
    )


class NormalEmailField(serializers.EmailField):
    """An address, read into its one normal form (integration.text.canonical_email) before it is
    validated: the normal form is what is stored, so it is what must be a valid address of at most
    254 characters (fullwidth letters are read as their ASCII letters; 90 "U+33D2 SQUARE LOG" grow to
    270 characters "log...")."""

    def to_internal_value(self, data) -> str:
        return canonical_email(super().to_internal_value(data))


class RegisterSerializer(serializers.Serializer):
    email = NormalEmailField(max_length=254)
    password = _password_field()
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class PreferencesSerializer(serializers.Serializer):
    locale = serializers.CharField(max_length=16, required=False, validators=[validate_locale])
    marketing_opt_in = serializers.BooleanField(required=False)


class UserSerializer(serializers.Serializer):
    """The user as they see themselves (GET/PATCH /users/me/, the answer to registration)."""

    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True, help_text="E.164, empty if not given")
    shipping_address = AddressField(read_only=True, allow_null=True)
    preferences = serializers.SerializerMethodField()
    email_verified = serializers.BooleanField(read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)
    date_joined = serializers.DateTimeField(read_only=True)

    def get_preferences(self, user) -> PreferencesSerializer:
        return {"locale": user.locale, "marketing_opt_in": user.marketing_opt_in}


class ProfileUpdateSerializer(serializers.Serializer):
    """PATCH /users/me/: any subset. An address is replaced whole (or removed with null)."""

    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=16, required=False, allow_blank=True, validators=[validate_e164])
    shipping_address = AddressField(required=False, allow_null=True)
    preferences = PreferencesSerializer(required=False)

    def changes(self) -> dict:
        """The validated input as model field names."""
        data = dict(self.validated_data)
        data.update(data.pop("preferences", {}))
        return data


class PasswordChangeSerializer(serializers.Serializer):
    current_password = _password_field()
    new_password = _password_field()


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = _password_field()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class StaffUserSerializer(serializers.Serializer):
    """A row of the operators' user listing."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    email_verified = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class StaffUserQuerySerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
