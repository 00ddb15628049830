"""The JSON codec round-trips every supported type exactly and refuses what does not fit."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration import codec
from tests.busapp.events import Colour, Everything, Line

utc_datetimes = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)
offset_datetimes = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
)
money = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9)
lines = st.builds(
    Line, sku=st.text(min_size=1, max_size=12), quantity=st.integers(0, 10**6), unit_price=money
)
everything = st.builds(
    Everything,
    id=st.uuids(),
    amount=st.decimals(allow_nan=False, allow_infinity=False),
    at=offset_datetimes,
    on=st.dates(),
    colour=st.sampled_from(Colour),
    tags=st.lists(st.text(max_size=8), max_size=4).map(tuple),
    pair=st.tuples(st.integers(), st.text(max_size=5)),
    lines=st.lists(lines, max_size=3).map(tuple),
    note=st.none() | st.text(max_size=20),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flags=st.dictionaries(st.text(max_size=5), st.booleans(), max_size=3),
    active=st.booleans(),
)


@given(everything)
def test_round_trip_is_exact(value):
    text = codec.dumps(value)
    decoded = codec.loads(Everything, text)
    assert decoded == value
    assert type(decoded.amount) is Decimal and type(decoded.id) is uuid.UUID
    assert isinstance(decoded.tags, tuple) and all(isinstance(line, Line) for line in decoded.lines)
    assert decoded.at.utcoffset() == value.at.utcoffset()


def test_decimals_are_strings_with_their_exponent_kept():
    line = Line(sku="A-1", quantity=2, unit_price=Decimal("19.90"))
    assert codec.to_primitive(line) == {"sku": "A-1", "quantity": 2, "unit_price": "19.90"}
    assert codec.from_primitive(
        Line, {"sku": "A-1", "quantity": 2, "unit_price": "19.90"}
    ).unit_price == Decimal("19.90")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"sku": "A", "quantity": "2", "unit_price": "1.00"}, "$.quantity: expected an integer"),
        ({"sku": "A", "quantity": True, "unit_price": "1.00"}, "$.quantity: expected an integer"),
        ({"sku": "A", "quantity": 2, "unit_price": "abc"}, "$.unit_price: 'abc' is not a decimal"),
        ({"sku": "A", "quantity": 2, "unit_price": "NaN"}, "$.unit_price: a decimal must be finite"),
        ({"sku": "A", "quantity": 2, "unit_price": 1.5}, "$.unit_price: expected a decimal string"),
        ({"sku": "A", "quantity": 2}, "missing field 'unit_price'"),
        (["not", "an", "object"], "expected an object for Line"),
    ],
)
def test_malformed_payloads_are_refused_with_the_path(payload, message):
    with pytest.raises(codec.CodecError) as info:
        codec.from_primitive(Line, payload)
    assert message in str(info.value)


def test_naive_datetimes_are_refused_both_ways():
    with pytest.raises(codec.CodecError, match="timezone-aware"):
        codec.to_primitive(dt.datetime(2026, 1, 1))
    with pytest.raises(codec.CodecError, match="must carry a timezone"):
        codec.from_primitive(dt.datetime, "2026-01-01T00:00:00")


def test_unknown_enum_values_and_bad_uuids_are_refused():
    with pytest.raises(codec.CodecError, match="is not a Colour"):
        codec.from_primitive(Colour, "green")
    with pytest.raises(codec.CodecError, match="is not a UUID"):
        codec.from_primitive(uuid.UUID, "nope")


def test_invalid_json_text_is_refused():
    with pytest.raises(codec.CodecError, match="not valid JSON"):
        codec.loads(Line, b"\xff{")


def test_unencodable_values_are_refused():
    with pytest.raises(codec.CodecError, match="cannot encode"):
        codec.to_primitive(object())
    with pytest.raises(codec.CodecError, match="finite"):
        codec.to_primitive(Decimal("Infinity"))


def test_unknown_keys_are_ignored_so_producers_can_add_optional_fields():
    decoded = codec.from_primitive(Line, {"sku": "A", "quantity": 1, "unit_price": "2", "new": 1})
    assert decoded == Line(sku="A", quantity=1, unit_price=Decimal("2"))
