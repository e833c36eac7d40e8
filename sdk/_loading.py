"""Load a code location's `Definitions` from a Python file or an importable module.

Only workers (and `materialize`) call this: the coordinator and the projector never
import user code (rule 7).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from conflux.events import LocationLoadError
from conflux.sdk._asset import AssetsDefinition
from conflux.sdk._definitions import Definitions

if TYPE_CHECKING:
    import types


def _definitions_in(module: types.ModuleType, location: str) -> Definitions:
    from conflux.sdk._lazy_definitions import LazyDefinitions

    found = [
        v() if isinstance(v, LazyDefinitions) else v
        for v in vars(module).values()
        if isinstance(v, Definitions | LazyDefinitions)
    ]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        named = getattr(module, "defs", None)
        if isinstance(named, LazyDefinitions):
            named = named()
        if isinstance(named, Definitions):
            return named
        raise LocationLoadError(
            f"{module.__name__} holds {len(found)} Definitions objects: keep one, or name the "
            "one to load `defs`",
            location=location,
        )
    assets = [v for v in vars(module).values() if isinstance(v, AssetsDefinition)]
    if not assets:
        raise LocationLoadError(
            f"{module.__name__} defines no Definitions and no @asset: add "
            "`defs = Definitions(assets=[...])` at module level",
            location=location,
        )
    return Definitions(assets=assets)


def file_relative_path(dunderfile: str, relative_path: str) -> str:
    """`relative_path` next to the file `dunderfile` names (Dagster's; pass `__file__`)."""
    import os

    return os.path.join(os.path.dirname(dunderfile), relative_path)


def load_definitions_from_file(path: str | Path, *, location: str | None = None) -> Definitions:
    """Import a Python file and return its `Definitions` (or one made of its assets).

    The file's folder is put first on `sys.path`, so it may import its neighbours.

    Raises:
        LocationLoadError: the file is missing, or holds no (or several) definitions.
        DefinitionError: the definitions are invalid (cycle, unknown dependency, ...).
        Exception: whatever the file raised while importing (a syntax or import error).
    """
    file = Path(path).resolve()
    name = location or file.stem
    if not file.is_file():
        raise LocationLoadError(f"code location file {file} does not exist", location=name)
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"conflux_location_{name}".replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise LocationLoadError(f"cannot import {file} as Python", location=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return _definitions_in(module, name)


def load_definitions_from_module(module_name: str, *, location: str | None = None) -> Definitions:
    """Import a module by name and return its `Definitions`.

    Raises:
        LocationLoadError: the module holds no (or several) definitions.
        ModuleNotFoundError: the module cannot be found on `sys.path`.
    """
    name = location or module_name
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    module = importlib.import_module(module_name)
    return _definitions_in(module, name)
