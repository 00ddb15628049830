"""Money as every context takes it in: an active ISO 4217 currency and an amount in its minor units.

The rules come from ISO 4217 (the list of current codes, "List One", as shipped by the `iso4217`
package): a currency is one of its three-letter codes with a defined number of minor units, its
*exponent* — JPY 0, EUR 2, KWD 3, CLF 4. Codes without minor units (gold XAU, the testing code XTS, "no
currency" XXX, SDR XDR) are not money a shop can charge, and withdrawn codes (HRK, ZWL) are not in the
list at all, so both are refused.

An amount respects its currency when it is a whole number of minor units: 1500 JPY but not 1500.5 JPY,
19.99 EUR but not 19.995 EUR. Trailing zeros are not held against it ("19.990" EUR is 19.99). A column
stores a fixed number of decimal places; `places` says how many, and a currency that needs more is
refused rather than rounded, so no amount is ever stored different from what was sent.

Everything here raises Django's ValidationError, which services, model and form validation, and DRF
serializers (which convert it to a field error) all understand; nothing here knows HTTP.

    currency_validator("EUR")                                    # a Django / DRF field validator
    amount_validate(amount=Decimal("19.99"), currency="EUR", places=2)
    quantize(amount=Decimal("1500.00"), currency="JPY")          # Decimal("1500")
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from django.core.exceptions import ValidationError
from iso4217 import Currency

# Every active ISO 4217 code that has minor units -> its exponent (decimal places of its minor unit).
EXPONENTS: Final[dict[str, int]] = {c.code: c.exponent for c in Currency if c.exponent is not None}


def currency_exponent(code: str) -> int:
    """The number of decimal places of `code`'s minor unit (JPY 0, EUR 2, KWD 3).

    Raises ValidationError (code "currency") for anything that is not an active ISO 4217 code with minor
    units: lower case, a withdrawn code, a made-up one ("QQQ"), a non-currency such as XAU or XTS.
    """
    exponent = EXPONENTS.get(code) if isinstance(code, str) else None
    if exponent is None:
        raise ValidationError(
            "%(value)s is not an active ISO 4217 currency code (such as EUR, USD or JPY).",
            code="currency",
            params={"value": repr(code)},
        )
    return exponent


def currency_validator(code: str) -> None:
    """A field validator (model, form or DRF field): `code` is an active ISO 4217 currency."""
    currency_exponent(code)


@dataclass(frozen=True)
class CurrencyValidator:
    """A field validator for currencies whose amounts go into a column of `places` decimal places:
    `CurrencyValidator(places=2)` refuses KWD (3) as well as QQQ. `codes()` lists what it accepts (the
    OpenAPI schema states it as an enum)."""

    places: int

    def __call__(self, code: str) -> None:
        currency_validate(code=code, places=self.places)

    def codes(self) -> list[str]:
        return sorted(code for code, exponent in EXPONENTS.items() if exponent <= self.places)


def currency_validate(*, code: str, places: int | None = None) -> int:
    """Check `code` and, with `places`, that its minor units fit a column of that many decimal places.

    Returns the exponent. ValidationError (code "currency") if the code is not an active ISO 4217 code,
    or if it needs more decimal places than `places`.
    """
    exponent = currency_exponent(code)
    if places is not None and exponent > places:
        raise ValidationError(
            "%(code)s amounts have %(exponent)d decimal places; amounts here are kept to %(places)d, "
            "so %(code)s is not accepted.",
            code="currency",
            params={"code": code, "exponent": exponent, "places": places},
        )
    return exponent


def amount_validate(
    *,
    amount: Decimal,
    currency: str,
    places: int | None = None,
    minimum: Decimal | None = Decimal(0),
    field: str = "amount",
    currency_field: str = "currency",
) -> None:
    """Check that `amount` is a finite Decimal, at least `minimum` (None: any sign), and a whole number
    of `currency`'s minor units; with `places`, that the currency fits a column of that many places.

    Raises ValidationError keyed by field name, as forms and serializers report it: {currency_field:
    [...]} when the currency is at fault, {field: [...]} (code "amount") when the amount is.
    """
    try:
        exponent = currency_validate(code=currency, places=places)
    except ValidationError as exc:
        raise ValidationError({currency_field: exc.error_list}) from None
    problem = _amount_problem(amount, exponent=exponent, currency=currency, minimum=minimum)
    if problem:
        raise ValidationError({field: [ValidationError(problem, code="amount")]})


def _amount_problem(amount: Decimal, *, exponent: int, currency: str, minimum: Decimal | None) -> str:
    # A float cannot hold most decimal amounts exactly (0.1 + 0.2 != 0.3): money is never a float.
    if not isinstance(amount, Decimal):
        return f"An amount is a decimal number, not {type(amount).__name__}."
    if not amount.is_finite():
        return "An amount is a finite number."
    if minimum is not None and amount < minimum:
        return f"An amount is at least {minimum}."
    try:
        exact = amount == quantize(amount=amount, currency=currency)
    except InvalidOperation:  # more digits than Decimal's context holds (28): no price is that large
        return "An amount has at most 28 significant digits."
    if not exact:
        places_text = "no decimal places" if exponent == 0 else f"at most {exponent} decimal places"
        return f"{currency} amounts have {places_text}."
    return ""


def quantize(*, amount: Decimal, currency: str) -> Decimal:
    """`amount` with exactly its currency's decimal places (rounding half-even if it had more), for
    display and for messages: 1500.00 JPY -> 1500, 19.9 EUR -> 19.90. ValidationError for a bad code.

    Formatting only: where an amount enters, `amount_validate` refuses one with too many places
    instead of rounding it.
    """
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def amount_text(*, amount: Decimal, currency: str) -> str:
    """An amount as JSON carries money (a decimal string, never a float): with exactly its currency's
    decimal places, "1500" JPY, "19.90" EUR. An amount in a code that is not (or no longer) valid, stored
    before it was checked, is written as stored rather than refused: reading must never fail on it."""
    if currency not in EXPONENTS or not isinstance(amount, Decimal) or not amount.is_finite():
        return str(amount)
    try:
        return str(quantize(amount=amount, currency=currency))
    except InvalidOperation:
        return str(amount)
