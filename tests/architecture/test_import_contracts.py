"""The import rules: events modules use only the stdlib, and the import-linter contracts really bite."""

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
EVENTS_MODULES = sorted(ROOT.glob("contexts/*/events.py"))


def non_stdlib_imports(source: str, filename: str = "<events>") -> list[str]:
    """Every import in `source` that is not of the standard library, as 'file:line: module'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # A relative import reaches into the project, never the stdlib.
            names = ["." * node.level + (node.module or "")] if node.level else [node.module]
        else:
            continue
        for name in names:
            if name.startswith(".") or name.split(".")[0] not in sys.stdlib_module_names:
                found.append(f"{filename}:{node.lineno}: {name}")
    return found


def test_there_is_an_events_module_per_context():
    assert len(EVENTS_MODULES) == len(settings.CONTEXT_APPS)


@pytest.mark.parametrize("path", EVENTS_MODULES, ids=lambda p: p.parent.name)
def test_events_modules_import_only_the_standard_library(path):
    found = non_stdlib_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "events modules may import only the standard library:\n" + "\n".join(found)


def test_the_stdlib_check_flags_third_party_project_and_relative_imports():
    source = """
from __future__ import annotations
import datetime as dt
from decimal import Decimal
import os.path
import django
from pydantic import BaseModel
from contexts.users import api
from . import models
from .models import Order

def lazy():
    from integration import bus
"""
    assert [line.split(": ")[1] for line in non_stdlib_imports(source)] == [
        "django",
        "pydantic",
        "contexts.users",
        ".",
        ".models",
        "integration",
    ]


# --- import-linter: a deliberate violation fails it --------------------------------------------------

CONTRACTS = [
    c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# One violation per contract, appended to a copy of the project.
VIOLATIONS = {
    "contexts/catalog/models.py": "\nfrom contexts.users import models as _users_models  # noqa\n",
    "integration/leak.py": '"""Imports a context."""\n\nimport contexts.orders.api  # noqa\n',
    "contexts/orders/events.py": "\nimport django  # noqa\n",
    "contexts/users/selectors.py": "\nimport rest_framework  # noqa\n",
    "contexts/catalog/api.py": "\nfrom integration.edge import problems as _problems  # noqa\n",
}


def _project_copy(tmp_path: Path) -> Path:
    for package in ("contexts", "integration", "config"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(cwd: Path) -> tuple[int, str]:
    executable = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(executable), "--no-cache"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, ANSI.sub("", result.stdout + result.stderr)


def _verdicts(output: str) -> dict[str, str]:
    return {
        name: v
        for name in CONTRACTS
        for v in ("KEPT", "BROKEN")
        if re.search(rf"{re.escape(name)}\s+{v}", output)
    }


def test_the_unmodified_project_keeps_every_contract(tmp_path):
    code, output = _lint_imports(_project_copy(tmp_path))
    assert code == 0, output
    assert _verdicts(output) == dict.fromkeys(CONTRACTS, "KEPT"), output


def test_a_deliberate_violation_of_each_contract_fails_the_linter(tmp_path):
    project = _project_copy(tmp_path)
    for relative, addition in VIOLATIONS.items():
        path = project / relative
        path.write_text((path.read_text() if path.exists() else "") + addition)
    code, output = _lint_imports(project)
    assert code != 0, output
    # A new contract needs its own entry in VIOLATIONS, or this test cannot show that it bites.
    assert _verdicts(output) == dict.fromkeys(CONTRACTS, "BROKEN"), output
    assert "contexts.catalog.models -> contexts.users.models" in output
    assert "integration.leak -> contexts.orders.api" in output
    assert "contexts.orders.events -> django" in output
    assert "contexts.users.selectors -> rest_framework" in output
    assert "contexts.catalog.api -> integration.edge.problems" in output
