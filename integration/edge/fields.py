"""Serializer fields every context's REST shapes share."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integration import money

AMOUNT_SCHEMA = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$", "example": "19.90"}


@extend_schema_field(AMOUNT_SCHEMA)
class AmountField(serializers.Field):
    """An amount of money, read with its currency from the object (or dict) as a whole, written as a
    decimal string with exactly the currency's decimal places: "1500" JPY, "19.90" EUR.

        price = AmountField("price")                             # obj.price in obj.currency
        amount = AmountField("amount", currency="payment.currency")
    """

    def __init__(self, amount: str, *, currency: str = "currency", **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)
        self.amount_path, self.currency_path = amount.split("."), currency.split(".")

    @staticmethod
    def _get(value, path: list[str]):
        for name in path:
            value = value[name] if isinstance(value, dict) else getattr(value, name)
        return value

    def to_representation(self, value) -> str:
        return money.amount_text(
            amount=self._get(value, self.amount_path), currency=self._get(value, self.currency_path)
        )
