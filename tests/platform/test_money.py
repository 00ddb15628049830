"""integration.money: ISO 4217 currencies and amounts in their minor units, for every context."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from integration import money


@pytest.mark.parametrize(("code", "exponent"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)])
def test_active_codes_and_their_minor_units(code, exponent):
    assert money.currency_exponent(code) == exponent
    money.currency_validator(code)


@pytest.mark.parametrize(
    "code",
    [
        "QQQ",  # made up
        "HRK",  # withdrawn (Croatia adopted the euro in 2023)
        "XAU",  # gold: an ISO 4217 code, but without minor units; not money a shop charges
        "XTS",  # reserved for testing
        "XXX",  # "no currency"
        "eur",  # codes are upper case
        "EURO",
        "",
        None,
        978,  # the numeric code is not the code
    ],
)
def test_anything_else_is_refused(code):
    with pytest.raises(ValidationError) as exc:
        money.currency_validator(code)
    assert exc.value.code == "currency"
    assert "ISO 4217" in exc.value.messages[0]


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("19.99", "EUR"),
        ("19.990", "EUR"),
        ("0", "EUR"),
        ("1500", "JPY"),
        ("1500.00", "JPY"),
        ("1.234", "KWD"),
    ],
)
def test_amounts_in_whole_minor_units_are_accepted(amount, currency):
    money.amount_validate(amount=Decimal(amount), currency=currency)


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (Decimal("19.995"), "EUR", "EUR amounts have at most 2 decimal places."),
        (Decimal("1500.5"), "JPY", "JPY amounts have no decimal places."),
        (Decimal("1.2345"), "KWD", "KWD amounts have at most 3 decimal places."),
        (Decimal("-1"), "EUR", "An amount is at least 0."),
        (Decimal("NaN"), "EUR", "An amount is a finite number."),
        (Decimal("Infinity"), "EUR", "An amount is a finite number."),
        (Decimal("1e40"), "EUR", "An amount has at most 28 significant digits."),
        (19.99, "EUR", "An amount is a decimal number, not float."),
    ],
)
def test_amounts_that_do_not_fit_are_refused_by_field(amount, currency, message):
    with pytest.raises(ValidationError) as exc:
        money.amount_validate(amount=amount, currency=currency, field="price")
    assert exc.value.message_dict == {"price": [message]}


def test_a_currency_with_more_places_than_the_column_is_refused_not_rounded():
    with pytest.raises(ValidationError) as exc:
        money.amount_validate(amount=Decimal("1.000"), currency="KWD", places=2)
    assert exc.value.message_dict == {
        "currency": ["KWD amounts have 3 decimal places; amounts here are kept to 2, so KWD is not accepted."]
    }
    money.amount_validate(
        amount=Decimal("-5"), currency="JPY", places=2, minimum=None
    )  # refunds may be negative


def test_amounts_are_written_with_their_currency_s_places():
    assert money.amount_text(amount=Decimal("1500.00"), currency="JPY") == "1500"
    assert money.amount_text(amount=Decimal("19.9"), currency="EUR") == "19.90"
    assert money.amount_text(amount=Decimal("1.5"), currency="KWD") == "1.500"
    # Stored before codes were checked: written as stored, never an error on reading.
    assert money.amount_text(amount=Decimal("3.50"), currency="QQQ") == "3.50"


def test_a_currency_validator_for_a_column_refuses_currencies_with_more_places():
    cents = money.CurrencyValidator(places=2)
    cents("EUR")
    cents("JPY")
    for code in ("KWD", "QQQ"):
        with pytest.raises(ValidationError):
            cents(code)
    assert "KWD" not in cents.codes() and "EUR" in cents.codes() and "JPY" in cents.codes()
