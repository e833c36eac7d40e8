"""Lazy re-exports for package roots: a public name loads its module on first use.

`conflux`, `conflux.events` and `conflux.sdk` export many names but import none of their
modules up front, so `from conflux import asset` pays only for what it names.

Each of those `__init__.py` files lists its public names once, in its `if TYPE_CHECKING:`
block, as explicit re-exports (`from conflux.sdk._asset import asset as asset`): type
checkers read that block, and `lazy_package` reads the same block from the file at
import time to derive `__all__` and the name -> module table (the approach of
Scientific Python's SPEC 1, which reads a stub file). Nothing else lists the names.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def lazy_package(package: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module-level `__getattr__` and `__dir__` for `package`, which also answer `__all__`.

    The names are those that the package's `__init__.py` imports under `if TYPE_CHECKING:`;
    `from m import *` there re-exports `m.__all__`. The file is read on the first lookup
    of a name (or of `__all__`), not at import: importing the package costs nothing more.

    Args:
        package: the package's `__name__` (its module must be executing or loaded).
    """
    module = sys.modules[package]
    table: dict[str, str] = {}

    def where() -> dict[str, str]:
        if not table:
            table.update(exported_names(Path(str(module.__file__))))
        return table

    def __getattr__(name: str) -> object:
        if name == "__all__":
            names = list(where())
            vars(module)["__all__"] = names  # later lookups skip this function
            return names
        source = where().get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(module, name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *where()})

    return __getattr__, __dir__


def exported_names(init_file: Path) -> dict[str, str]:
    """Public name -> defining module, read from the `if TYPE_CHECKING:` block of a file.

    Only `from MODULE import NAME as NAME` (an explicit re-export) and `from MODULE import *`
    count; an import without the alias is a private, type-only helper.
    """
    tree = ast.parse(init_file.read_bytes(), str(init_file))
    where: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                if not isinstance(stmt, ast.ImportFrom) or stmt.module is None:
                    continue
                for alias in stmt.names:
                    if alias.name == "*":
                        star: list[str] = importlib.import_module(stmt.module).__all__
                        where.update(dict.fromkeys(star, stmt.module))
                    elif alias.asname == alias.name:
                        where[alias.name] = stmt.module
    return where


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
