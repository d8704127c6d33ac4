"""The shape of the project: what a wheel ships, where errors live."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

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
    tooling = [m for m in modules if any(word in m for word in ("bench", "corpus", "tune", "fit_", "signals"))]
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
