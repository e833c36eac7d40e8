"""Code locations as `dev` runs them (`LocationSpec`), and reading a Dagster `workspace.yaml`.

```yaml
load_from:
  - python_file: defs.py     # or {relative_path, location_name, working_directory,
                             #     executable_path}
  - python_module:
      module_name: team_b.definitions
      location_name: team_b
      executable_path: /opt/team_b/venv/bin/python
```
Paths are relative to the workspace file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import ConfluxError

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class LocationSpec:
    """One code location `dev` runs a worker for (from -f, -m or a workspace file)."""

    name: str
    file: str | None = None
    module: str | None = None
    working_directory: str | None = None
    executable: str | None = None


class WorkspaceError(ConfluxError):
    """A workspace file is missing or malformed."""


def load_workspace(path: Path) -> list[LocationSpec]:
    """The code locations a workspace file lists.

    Raises:
        WorkspaceError: the file is missing, not YAML, or an entry is malformed; the
            message names the entry and the expected form.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise WorkspaceError(f"workspace file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise WorkspaceError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from exc
    entries = data.get("load_from") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise WorkspaceError(f"{path} needs a non-empty `load_from:` list")
    base = path.resolve().parent
    specs: list[LocationSpec] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise WorkspaceError(
                f"{path}: load_from[{i}] must be `python_file:` or `python_module:`"
            )
        kind, body = next(iter(entry.items()))
        if isinstance(body, str):
            body = {"relative_path" if kind == "python_file" else "module_name": body}
        if not isinstance(body, dict):
            raise WorkspaceError(f"{path}: load_from[{i}].{kind} must be a string or a mapping")
        workdir = body.get("working_directory")
        workdir_path = str((base / workdir).resolve()) if workdir else str(base)
        executable = body.get("executable_path")
        if kind == "python_file":
            rel = body.get("relative_path") or body.get("python_file")
            if not isinstance(rel, str):
                raise WorkspaceError(f"{path}: load_from[{i}].python_file needs relative_path")
            file = (base / rel).resolve()
            specs.append(
                LocationSpec(
                    str(body.get("location_name") or file.stem),
                    file=str(file),
                    working_directory=workdir_path,
                    executable=executable,
                )
            )
        elif kind == "python_module":
            module = body.get("module_name")
            if not isinstance(module, str):
                raise WorkspaceError(f"{path}: load_from[{i}].python_module needs module_name")
            specs.append(
                LocationSpec(
                    str(body.get("location_name") or module),
                    module=module,
                    working_directory=workdir_path,
                    executable=executable,
                )
            )
        else:
            raise WorkspaceError(
                f"{path}: load_from[{i}]: unknown entry {kind!r}: use python_file or python_module"
            )
    return specs
