"""One account per address however it is spelled: fullwidth letters, a Unicode domain, case, spaces.

Addresses are normalised (NFKC, the domain in IDNA ASCII form, lower case) before the uniqueness
check, before every login (API and admin), and in the stored row.
"""

import importlib

import pytest
from django.apps import apps as installed_apps
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from contexts.users.models import User
from integration.text import canonical_email, normalize_email
from tests.users.conftest import PASSWORD, UserFactory, assert_problem

pytestmark = pytest.mark.django_db


def fullwidth(text: str) -> str:
    """The fullwidth lookalike of ASCII text (U+FF01..U+FF5E): "example" -> its fullwidth letters."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"


def _register(email: str):
    return APIClient().post(REGISTER, {"email": email, "password": PASSWORD}, format="json")


@pytest.mark.parametrize(
    ("spelling", "normal"),
    [
        ("quinn@" + fullwidth("example") + ".com", "quinn@example.com"),
        (fullwidth("quinn@example.com"), "quinn@example.com"),
        ("  Quinn@EXAMPLE.com ", "quinn@example.com"),
        ("Juergen@Bücher.DE", "juergen@xn--bcher-kva.de"),
        ("a@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
        ("a@faß.de", "a@xn--fa-hia.de"),  # IDNA 2008 keeps ß (IDNA 2003 would have made it "ss")
        ("user@[127.0.0.1]", "user@[127.0.0.1]"),  # an address literal is left as it is
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_normal_forms(spelling, normal):
    assert normalize_email(spelling) == normal
    assert normalize_email(normal) == normal  # idempotent


def test_a_fullwidth_lookalike_of_a_registered_address_is_taken():
    assert _register("quinn@example.com").status_code == 201
    for spelling in (
        "quinn@" + fullwidth("example") + ".com",
        fullwidth("QUINN") + "@example.com",
        "quinn@EXAMPLE.com",
    ):
        assert_problem(_register(spelling), 409, "email-taken")
    assert list(User.objects.values_list("email", flat=True)) == ["quinn@example.com"]


def test_a_unicode_domain_is_stored_in_its_ascii_form_and_its_spellings_are_one_account():
    response = _register("Juergen@Bücher.de")
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "juergen@xn--bcher-kva.de"
    assert_problem(_register("juergen@xn--bcher-kva.de"), 409, "email-taken")


def test_login_with_any_spelling_finds_the_account():
    UserFactory(email="quinn@example.com")
    for spelling in (
        "quinn@" + fullwidth("example") + ".com",
        fullwidth("quinn@") + "example.com",
        " Quinn@Example.COM",
    ):
        response = APIClient().post(TOKEN, {"email": spelling, "password": PASSWORD}, format="json")
        assert response.status_code == 200, (spelling, response.content)


def test_the_admin_login_normalises_too():
    UserFactory(email="ops@example.com", is_staff=True)
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": "ops@" + fullwidth("example") + ".com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_an_address_too_long_once_normalised_is_a_400_not_a_database_error():
    # 102 characters typed; each "㏒" (U+33D2) is "log" in NFKC, so the normal form is 282.
    email = "㏒" * 90 + "@example.com"
    assert len(normalize_email(email)) > 254
    body = assert_problem(_register(email), 400, "validation-error")
    assert "email" in body["errors"]
    assert not User.objects.exists()


def test_the_admin_add_form_refuses_a_lookalike(client):
    UserFactory(email="quinn@example.com")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {"email": "quinn@" + fullwidth("example") + ".com", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("admin:users_user_add"), form)
    assert response.status_code == 200  # the form again, with the error
    assert User.objects.filter(email="quinn@example.com").count() == 1
    assert User.objects.count() == 2


def test_the_admin_add_form_stores_the_normal_form(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = {"email": "Grace@" + fullwidth("E") + "xample.com", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("admin:users_user_add"), form).status_code == 302
    assert User.objects.filter(email="grace@example.com").exists()


def test_canonical_email_refuses_what_normalising_makes_invalid():
    from django.core.exceptions import ValidationError

    assert canonical_email("Quinn@" + fullwidth("EXAMPLE") + ".com") == "quinn@example.com"
    with pytest.raises(ValidationError):
        canonical_email("㏒" * 90 + "@example.com")
    with pytest.raises(ValidationError):  # no IDNA 2008 form: a symbol in the domain
        canonical_email("snow@☃.net")
    with pytest.raises(ValidationError):  # an address literal is no internet mailbox to register
        canonical_email("Ops@[192.0.2.1]")


def test_the_migration_normalises_stored_rows_and_leaves_collisions_alone(capsys):
    migration = importlib.import_module("contexts.users.migrations.0002_normalize_emails")
    kept = UserFactory(email="quinn@example.com")
    lookalike, other, upper = UserFactory(), UserFactory(), UserFactory()
    # Rows as older code stored them, written past the model's normalisation.
    User.objects.filter(id=lookalike.id).update(email="quinn@" + fullwidth("example") + ".com")
    User.objects.filter(id=other.id).update(email="juergen@bücher.de")
    User.objects.filter(id=upper.id).update(email="ada@" + fullwidth("EXAMPLE") + ".org")

    migration.normalize_stored_emails(installed_apps, connection.schema_editor())

    emails = dict(User.objects.values_list("id", "email"))
    assert emails[kept.id] == "quinn@example.com"
    assert emails[other.id] == "juergen@xn--bcher-kva.de"
    assert emails[upper.id] == "ada@example.org"
    assert emails[lookalike.id] == "quinn@" + fullwidth("example") + ".com"  # taken: left for an operator
    assert str(lookalike.id) in capsys.readouterr().out


@pytest.mark.parametrize(
    "email",
    [
        "x@xn--zz.com",  # an ASCII label that is no valid IDNA label
        "a" * 65 + "@example.com",  # RFC 5321: a local part is at most 64 octets
        "qu\u0131nn@example.com",  # dotless i: a lookalike no normalisation maps to quinn
        '"quinn"@example.com',  # quoted: the same mailbox as quinn@ to a mail server
        "x@localhost",
        "x@[127.0.0.1]",
    ],
)
def test_registration_refuses_addresses_that_are_lookalikes_or_not_internet_mailboxes(email):
    UserFactory(email="quinn@example.com")
    body = assert_problem(_register(email), 400, "validation-error")
    assert "email" in body["errors"]
    assert User.objects.count() == 1
