"""The shape of the project: what a wheel ships, where errors live."""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qabot"


def test_the_wheel_holds_the_library_and_its_front_ends_only() -> None:
    """The packages setuptools finds with pyproject's settings: no benchmark, corpus or tuning code."""
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    assert "qabot" in packages and "qabot.cli" in packages and "qabot.bot" in packages
    assert all(p == "qabot" or p.startswith("qabot.") for p in packages), packages
    modules = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")]
    scripts = {p.name for p in (ROOT / "scripts").glob("*.py")}
    tooling = [m for m in modules if "bench" in m or m.rsplit("/", 1)[-1] in scripts]
    assert tooling == []


def test_error_classes_are_defined_only_in_errors_py() -> None:
    defined: list[str] = []
    for file in PACKAGE.rglob("*.py"):
        if file.name == "errors.py" and file.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and (
                node.name.endswith(("Error", "Exception"))
                or any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception")) for b in node.bases)
            ):
                defined.append(f"{file.relative_to(ROOT)}:{node.name}")
    assert defined == []


def test_the_error_tree_drawn_in_the_docstring_is_the_real_one() -> None:
    from qabot import errors

    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.QabotError) and cls is not errors.QabotError
    }
    drawn: dict[str, int] = {}  # class name -> column of its branch
    for line in (errors.__doc__ or "").splitlines():
        if "── " in line:
            drawn[line.split("── ")[1].split()[0]] = line.index("──")
    assert sorted(drawn) == sorted(classes)
    top = min(drawn.values())
    for name, column in drawn.items():
        assert (classes[name].__bases__[0] is errors.QabotError) == (column == top), name


TOOL_EXTRAS = {"test", "bench", "tune"}  # for working on qabot; every other extra is an optional feature


def _declared(config: dict[str, Any], *extras: str) -> set[str]:
    optional = config["project"]["optional-dependencies"]
    requirements = list(config["project"]["dependencies"])
    for extra in extras:
        names = [e for e in optional if e not in TOOL_EXTRAS] if extra == "features" else [extra]
        for name in names:
            requirements += optional[name]
    return {_canonical(re.match(r"[A-Za-z0-9_.\-]+", r).group(0)) for r in requirements}  # type: ignore[union-attr]


@functools.cache
def _installed() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return dict(packages_distributions())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported(folder: Path) -> set[str]:
    """Top-level modules imported anywhere under folder, outside the standard library and the project."""
    names: set[str] = set()
    for file in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    own = {"qabot", "benchmarks", "scripts", "tests"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in own}


@pytest.mark.parametrize(
    ("folder", "extras"),
    [
        ("qabot", ("features",)),  # an optional feature's import (lazy) is declared in its own extra
        ("scripts", ("features", "tune")),
        ("benchmarks", ("features", "bench")),
        ("tests", ("features", "test")),
    ],
)
def test_every_import_is_declared_in_pyproject(folder: str, extras: tuple[str, ...]) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = _declared(config, *extras)
    installed = _installed()
    undeclared: dict[str, list[str]] = {}
    for module in _imported(ROOT / folder):
        # A module not installed here (from an extra) is looked up by its own name, as PyPI spells most.
        dists = installed.get(module, [module])
        if not declared & {_canonical(d) for d in dists}:
            undeclared[module] = dists
    assert undeclared == {}
