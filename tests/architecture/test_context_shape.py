"""Every context has the same shape: a ContextConfig, and public api and events modules that obey the rules.

Contexts are packages under contexts/ and are found on disk, so a new one is checked before anyone
remembers to list it anywhere.
"""

import dataclasses
import importlib
import importlib.util
import inspect
import re
import types
import typing
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest

from integration.bus import registry
from integration.contexts import ContextConfig

CONTEXTS_DIR = Path(__file__).resolve().parents[2] / "contexts"
CONTEXTS = sorted(p.name for p in CONTEXTS_DIR.iterdir() if (p / "__init__.py").exists())
REQUIRED_MODULES = ("apps", "api", "events", "models")
# What an api must never take or hand out: callers get DTOs, not rows, querysets or requests.
FORBIDDEN_IN_API = (models.Model, models.QuerySet, models.Manager, HttpRequest)


def _config(package: str) -> ContextConfig:
    found = [c for c in apps.get_app_configs() if c.name == f"contexts.{package}"]
    assert found, f"contexts.{package} is not in INSTALLED_APPS (settings.CONTEXT_APPS)"
    return found[0]


def _public_functions(module, package: str):
    """Public functions of an api module that belong to the context (its own or re-exported from it)."""
    prefix = f"contexts.{package}"
    for name, fn in sorted(vars(module).items()):
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        if fn.__module__ == prefix or fn.__module__.startswith(prefix + "."):
            yield name, fn


def _types_in(hint) -> typing.Iterator[type]:
    if isinstance(hint, type):
        yield hint
    for arg in typing.get_args(hint):
        yield from _types_in(arg)


@pytest.mark.parametrize("package", CONTEXTS)
def test_a_context_has_the_required_modules(package):
    missing = [m for m in REQUIRED_MODULES if importlib.util.find_spec(f"contexts.{package}.{m}") is None]
    assert not missing, f"contexts/{package} lacks {', '.join(m + '.py' for m in missing)}"


@pytest.mark.parametrize("package", CONTEXTS)
def test_a_context_is_installed_with_its_own_context_config(package):
    config = _config(package)
    assert isinstance(config, ContextConfig), (
        f"{type(config)} must subclass integration.contexts.ContextConfig"
    )
    assert type(config).__module__ == f"contexts.{package}.apps"
    assert config.responsibilities, f"{type(config).__name__} declares no responsibilities"


def keyword_only_problems(api, package: str) -> list[str]:
    problems = []
    for name, fn in _public_functions(api, package):
        positional = [
            p.name for p in inspect.signature(fn).parameters.values() if p.kind is not p.KEYWORD_ONLY
        ]
        if positional:
            problems.append(f"{name}({', '.join(positional)}): make them keyword-only (def {name}(*, ...))")
    return problems


@pytest.mark.parametrize("package", CONTEXTS)
def test_api_functions_take_keyword_only_arguments(package):
    problems = keyword_only_problems(importlib.import_module(f"contexts.{package}.api"), package)
    assert not problems, f"contexts/{package}/api.py:\n" + "\n".join(problems)


def model_leak_problems(api, package: str) -> list[str]:
    problems = []
    for name, fn in _public_functions(api, package):
        try:
            hints = typing.get_type_hints(fn)
        except NameError:
            # Annotations naming what only TYPE_CHECKING imports cannot be resolved; the keyword-only
            # check still covers the signature.
            continue
        for param, hint in hints.items():
            bad = [t.__name__ for t in _types_in(hint) if issubclass(t, FORBIDDEN_IN_API)]
            if bad:
                where = "returns" if param == "return" else f"takes {param} as"
                problems.append(f"{name} {where} {', '.join(bad)}: use a frozen dataclass DTO")
    return problems


@pytest.mark.parametrize("package", CONTEXTS)
def test_api_functions_neither_take_nor_return_models_querysets_or_requests(package):
    problems = model_leak_problems(importlib.import_module(f"contexts.{package}.api"), package)
    assert not problems, f"contexts/{package}/api.py:\n" + "\n".join(problems)


def _own_classes(module) -> list[type]:
    return [
        v for _, v in sorted(vars(module).items()) if isinstance(v, type) and v.__module__ == module.__name__
    ]


def _dataclass_problems(cls: type) -> list[str]:
    if not dataclasses.is_dataclass(cls):
        return [f"{cls.__name__} is not a dataclass"]
    problems = []
    if not cls.__dataclass_params__.frozen:
        problems.append(f"{cls.__name__} is not frozen")
    positional = [f.name for f in dataclasses.fields(cls) if f.init and not f.kw_only]
    if positional:
        problems.append(f"{cls.__name__} has positional fields {positional}: use @dataclass(kw_only=True)")
    return problems


def event_problems(events, label: str) -> list[str]:
    type_name = re.compile(rf"^{re.escape(label)}\.[A-Z][A-Za-z0-9]*\.v[1-9][0-9]*$")
    problems = []
    for cls in _own_classes(events):
        if not hasattr(cls, "EVENT_TYPE"):
            # Value objects carried inside events must be as immutable as the events themselves.
            if dataclasses.is_dataclass(cls):
                problems += _dataclass_problems(cls)
            continue
        problems += _dataclass_problems(cls)
        if dataclasses.is_dataclass(cls) and "EVENT_TYPE" in {f.name for f in dataclasses.fields(cls)}:
            problems.append(f"{cls.__name__}.EVENT_TYPE is a field: annotate it ClassVar[str]")
        if not isinstance(cls.EVENT_TYPE, str) or not type_name.match(cls.EVENT_TYPE):
            problems.append(f"{cls.__name__}.EVENT_TYPE {cls.EVENT_TYPE!r} is not '{label}.<Name>.v<N>'")
        else:
            try:
                registered = registry.event_type_named(cls.EVENT_TYPE).cls
            except registry.UnknownEventType:
                registered = None
            if registered is not cls:
                problems.append(f"{cls.__name__} is not registered as {cls.EVENT_TYPE} at start-up")
    return problems


@pytest.mark.parametrize("package", CONTEXTS)
def test_events_are_frozen_keyword_only_dataclasses_named_after_their_own_context(package):
    events = importlib.import_module(f"contexts.{package}.events")
    problems = event_problems(events, _config(package).label)
    assert not problems, f"contexts/{package}/events.py:\n" + "\n".join(problems)


# --- the checks themselves catch violations ----------------------------------------------------------


def _module(name: str, **members) -> types.ModuleType:
    module = types.ModuleType(name)
    for member in members.values():
        member.__module__ = name
    vars(module).update(members)
    return module


def test_the_api_checks_flag_positional_arguments_and_model_leaks():
    def product_get(sku: str) -> ContentType: ...

    def product_list(*, filters: dict, request: HttpRequest) -> list[ContentType]: ...

    def product_price(*, sku: str) -> str: ...

    def _helper(sku): ...

    api = _module(
        "contexts.fake.api",
        product_get=product_get,
        product_list=product_list,
        product_price=product_price,
        _helper=_helper,
    )
    assert keyword_only_problems(api, "fake") == [
        "product_get(sku): make them keyword-only (def product_get(*, ...))"
    ]
    assert model_leak_problems(api, "fake") == [
        "product_get returns ContentType: use a frozen dataclass DTO",
        "product_list takes request as HttpRequest: use a frozen dataclass DTO",
        "product_list returns ContentType: use a frozen dataclass DTO",
    ]


def test_the_api_checks_ignore_functions_imported_from_outside_the_context():
    api = _module("contexts.fake.api")
    api.dataclass = dataclasses.dataclass  # public, positional, but the stdlib's
    assert keyword_only_problems(api, "fake") == []


def test_the_event_check_flags_mutable_positional_misnamed_and_unregistered_events():
    @dataclasses.dataclass
    class Mutable:
        EVENT_TYPE: typing.ClassVar[str] = "fake.Mutable.v1"
        sku: str

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Foreign:
        EVENT_TYPE: typing.ClassVar[str] = "orders.Foreign.v1"

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class AsField:
        EVENT_TYPE: str = "fake.AsField.v1"

    @dataclasses.dataclass
    class Line:
        sku: str

    events = _module("contexts.fake.events", Mutable=Mutable, Foreign=Foreign, AsField=AsField, Line=Line)
    assert event_problems(events, "fake") == [
        "AsField.EVENT_TYPE is a field: annotate it ClassVar[str]",
        "AsField is not registered as fake.AsField.v1 at start-up",
        "Foreign.EVENT_TYPE 'orders.Foreign.v1' is not 'fake.<Name>.v<N>'",
        "Line is not frozen",
        "Line has positional fields ['sku']: use @dataclass(kw_only=True)",
        "Mutable is not frozen",
        "Mutable has positional fields ['sku']: use @dataclass(kw_only=True)",
        "Mutable is not registered as fake.Mutable.v1 at start-up",
    ]
