"""Lazy re-exports for package roots: a public name loads its module on first use.

`conflux`, `conflux.events` and `conflux.sdk` export many names but import none of their
modules up front, so `from conflux import asset` pays only for what it names.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module-level `__getattr__` and `__dir__` for `package`.

    Args:
        package: the package's `__name__`.
        where: public name -> the module that defines it.
    """
    module = sys.modules[package]

    def __getattr__(name: str) -> object:
        source = where.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(module, name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *where})

    return __getattr__, __dir__
