"""The service-interface registry: one declaration per api function, one call path, and a codec round
trip (on in the test settings) that makes whatever could not cross a wire fail here."""

import dataclasses
import datetime as dt
import importlib
import uuid
from collections.abc import Sequence
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from integration import errors, services
from integration.codec import CodecError
from integration.contexts import context_configs
from tests.remoteapp.api import ProbeDown as QuoteServiceDown
from tests.remoteapp.api import ProbeRefused as QuoteRefused


@dataclasses.dataclass(frozen=True, kw_only=True)
class Line:
    sku: str
    quantity: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class Quote:
    id: uuid.UUID
    total: Decimal
    at: dt.datetime
    lines: tuple[Line, ...]


seen: list[dict] = []


@pytest.fixture
def quote_api():
    """A throwaway context "quotes" with one operation that reports what it received."""

    @services.operation("quotes")
    def quote_make(*, lines: Sequence[Line], at: dt.datetime, refuse: str = "") -> Quote:
        """Price some lines."""
        seen.append({"lines": lines, "at": at})
        if refuse == "business":
            raise QuoteRefused("Too many.", skus=tuple(line.sku for line in lines), limit=Decimal("9.50"))
        if refuse == "transient":
            raise QuoteServiceDown(retry_after=3)
        if refuse == "validation":
            raise ValidationError({"lines": ["At most three lines."]})
        if refuse == "naive":
            return Quote(id=uuid.uuid4(), total=Decimal("1.10"), at=at.replace(tzinfo=None), lines=())
        if refuse == "bug":
            raise KeyError("a bug is not an interface error")
        return Quote(id=uuid.uuid4(), total=Decimal("19.99"), at=at, lines=tuple(lines))

    seen.clear()
    errors.register_error(QuoteRefused)
    errors.register_error(QuoteServiceDown)
    yield quote_make
    services.unregister("quotes", "quote_make")


AT = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def test_the_round_trip_is_on_in_the_test_settings():
    assert settings.SERVICES["CODEC_ROUND_TRIP"] is True
    assert isinstance(services.transport_for("catalog"), services.CodecRoundTrip)


def test_a_call_goes_through_the_registry_and_its_values_are_decoded_by_the_annotations(quote_api):
    result = quote_api(lines=[Line(sku="A", quantity=2)], at=AT)
    # The implementation received what the wire carried: a list became the declared tuple of Lines.
    assert seen == [{"lines": (Line(sku="A", quantity=2),), "at": AT}]
    assert result.total == Decimal("19.99") and isinstance(result.total, Decimal)
    assert result.lines == (Line(sku="A", quantity=2),)
    assert quote_api.operation is services.operation_named("quotes", "quote_make")


def test_in_process_without_the_round_trip_passes_values_through_untouched(quote_api, settings):
    settings.SERVICES = {**settings.SERVICES, "CODEC_ROUND_TRIP": False}
    lines = [Line(sku="A", quantity=2)]
    quote_api(lines=lines, at=AT)
    assert seen[0]["lines"] is lines


def test_business_and_transient_errors_cross_as_the_same_type_with_the_same_fields(quote_api):
    with pytest.raises(QuoteRefused) as refused:
        quote_api(lines=[Line(sku="A", quantity=2), Line(sku="B", quantity=1)], at=AT, refuse="business")
    assert refused.value.skus == ("A", "B") and refused.value.limit == Decimal("9.50")
    assert refused.value.detail == "Too many."
    assert refused.value.__cause__ is not None  # the original, for the traceback
    assert refused.value is not refused.value.__cause__ and refused.value == refused.value.__cause__

    with pytest.raises(QuoteServiceDown) as down:
        quote_api(lines=[], at=AT, refuse="transient")
    assert isinstance(down.value, errors.TransientError) and down.value.retry_after == 3

    with pytest.raises(ValidationError) as invalid:
        quote_api(lines=[], at=AT, refuse="validation")
    assert invalid.value.message_dict == {"lines": ["At most three lines."]}


def test_a_bug_propagates_as_itself(quote_api):
    with pytest.raises(KeyError):
        quote_api(lines=[], at=AT, refuse="bug")


def test_what_cannot_cross_a_wire_fails_with_its_path(quote_api):
    with pytest.raises(CodecError, match="timezone"):
        quote_api(lines=[], at=AT, refuse="naive")  # a naive datetime in the result
    with pytest.raises(CodecError, match="cannot encode a value of type object"):
        quote_api(lines=[object()], at=AT)
    with pytest.raises(CodecError, match=r"quotes.quote_make\(at\)"):
        quote_api(lines=[], at="yesterday")


def test_calls_are_keyword_only_and_checked_like_a_direct_call(quote_api):
    with pytest.raises(TypeError, match="keyword arguments only"):
        quote_api([Line(sku="A", quantity=1)], AT)
    with pytest.raises(TypeError, match="unexpected keyword"):
        quote_api(lines=[], at=AT, price=1)
    with pytest.raises(TypeError, match="missing keyword"):
        quote_api(lines=[])


def test_registration_refuses_what_could_not_be_a_wire_format_and_clashing_names(quote_api):
    with pytest.raises(services.RegistryError, match="keyword-only"):

        @services.operation("quotes")
        def positional(sku: str) -> str:
            return sku

    with pytest.raises(services.RegistryError, match="type annotation"):

        @services.operation("quotes")
        def untyped(*, sku) -> str:
            return sku

    with pytest.raises(services.RegistryError, match="return type"):

        @services.operation("quotes")
        def no_return(*, sku: str):
            return sku

    with pytest.raises(services.RegistryError, match="claimed by"):

        @services.operation("quotes")
        def quote_make(*, sku: str) -> str:  # another function under a registered name
            return sku


def test_every_public_function_of_every_api_module_is_a_registered_operation():
    checked = 0
    for config in context_configs():
        module = importlib.import_module(f"{config.name}.api")
        public = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        functions = [
            n for n in public if callable(getattr(module, n)) and not isinstance(getattr(module, n), type)
        ]
        for name in functions:
            op = getattr(getattr(module, name), "operation", None)
            assert op is not None, f"{config.name}.api.{name} is not declared with @services.operation"
            assert (op.context, op.name) == (config.label, name)
            checked += 1
        assert {op.name for op in services.operations(config.label)} == set(functions)
    assert checked >= 12  # users and catalog today


def _exported_errors():
    for config in context_configs():
        module = importlib.import_module(f"{config.name}.api")
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, Exception):
                yield config.label, value


def test_every_context_error_is_exactly_one_of_business_or_transient():
    found = list(_exported_errors())
    assert found
    for context, cls in found:
        assert issubclass(cls, errors.ContextError), f"{context}: {cls.__name__} is not a ContextError"
        if cls.__bases__ == (errors.ContextError,):
            continue  # the context's root (CatalogError): never raised itself
        kinds = [issubclass(cls, errors.BusinessError), issubclass(cls, errors.TransientError)]
        assert kinds.count(True) == 1, f"{context}: {cls.__name__} must be business or transient"
        assert cls.code not in ("error", "not-found", "conflict", "invalid"), (
            f"{cls.__name__} needs its own code"
        )


def test_context_errors_know_no_http():
    for _, cls in _exported_errors():
        assert not hasattr(cls, "status") and not hasattr(cls, "status_code"), cls


def test_manage_contexts_lists_each_context_interface(capsys):
    call_command("contexts")
    out = capsys.readouterr().out
    assert "- **Interface (`api.py`):** `user_contact(user_id)`" in out
    assert "`stock_reserve(key, lines, ttl)`" in out
