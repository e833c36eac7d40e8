"""The parts depend one way, and use each other only through their `__init__` (STYLE.md 11).

`events` <- `sdk` <- `projections` <- `coordinator` <- the CLI and the namespace root
(`conflux/`, which holds `materialize()`); `workers` on `events` and `sdk` only. Inside
`projections`, the rooms depend one way too: `api` <- `folds` <- `archive` <- `projector`.
Every import counts: at module level, inside a function, and under `TYPE_CHECKING`.
`conflux._lazy` (how packages derive their lazy exports) sits below them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PART_FOLDERS = {
    "events": ROOT / "events",
    "sdk": ROOT / "sdk",
    "projections": ROOT / "projections",
    "coordinator": ROOT / "coordinator",
    "workers": ROOT / "workers",
    "conflux": ROOT / "conflux",  # the namespace root and the CLI
}
MAY_USE = {
    "events": set(),
    "sdk": {"events"},
    "projections": {"events", "sdk"},
    "coordinator": {"events", "sdk", "projections"},
    "workers": {"events", "sdk"},
    "conflux": {"events", "sdk", "projections", "coordinator", "workers"},
}
ROOMS = ("api", "folds", "archive", "projector")
FOUNDATION = {"conflux._lazy"}
"""Below every part: the helper that derives each package's lazy exports (stdlib only)."""


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute `conflux.*` module a file imports, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [a.name for a in node.names]
            # `from conflux.x import _y` imports the private module `_y`
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{n}") for n in names if n.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, m) for line, m in found if m == "conflux" or m.startswith("conflux.")]


def part_of(module: str) -> tuple[str, list[str]]:
    """The part a `conflux.*` module belongs to, and its path below the part."""
    parts = module.split(".")[1:]
    if parts and parts[0] in PART_FOLDERS and parts[0] != "conflux":
        return parts[0], parts[1:]
    return "conflux", parts


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def layer_violations(folders: dict[str, Path] = PART_FOLDERS) -> list[str]:
    bad: list[str] = []
    for part, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            bad += _part_violations(part, path)
    return bad


def _part_violations(part: str, path: Path) -> list[str]:
    bad: list[str] = []
    for line, module in imported_modules(path):
        other, rest = part_of(module)
        where = f"{shown(path)}:{line} imports {module}"
        if other == part or module in FOUNDATION:
            continue
        if other not in MAY_USE[part]:
            bad.append(f"{where}: {part} may not depend on {other}")
        elif any(p.startswith("_") for p in rest):
            bad.append(f"{where}: a private module of {other}; export the name instead")
    return bad


def room_violations(base: Path = ROOT / "projections") -> list[str]:
    bad: list[str] = []
    for room in ROOMS:
        for path in sorted((base / room).rglob("*.py")):
            for line, module in imported_modules(path):
                other, rest = part_of(module)
                if other != "projections" or not rest:
                    continue
                where = f"{shown(path)}:{line} imports {module}"
                if rest[0] not in ROOMS:
                    bad.append(f"{where}: projections has no room {rest[0]!r}")
                elif rest[0] == room:
                    continue
                elif ROOMS.index(rest[0]) > ROOMS.index(room):
                    bad.append(f"{where}: room {room} may not depend on {rest[0]}")
                elif any(p.startswith("_") for p in rest[1:]):
                    bad.append(f"{where}: a private module of room {rest[0]}")
    return bad


def test_the_parts_depend_one_way_through_their_public_modules() -> None:
    assert layer_violations() == []


def test_the_rooms_of_projections_depend_one_way() -> None:
    assert room_violations() == []


@pytest.mark.parametrize(
    ("part", "source", "expected"),
    [
        ("sdk", "from conflux.coordinator import decide\n", "sdk may not depend on coordinator"),
        ("sdk", "def f():\n    import conflux.projections\n", "may not depend on projections"),
        ("workers", "from conflux.sdk._execute import X\n", "a private module of sdk"),
        ("coordinator", "from conflux.events import _serde\n", "a private module of events"),
    ],
)
def test_the_check_catches_what_it_should(
    part: str, source: str, expected: str, tmp_path: Path
) -> None:
    (tmp_path / "_probe.py").write_text(source)
    found = layer_violations({part: tmp_path})
    assert len(found) == 1 and expected in found[0], found


def test_the_room_check_catches_an_upward_and_a_private_import(tmp_path: Path) -> None:
    for room in ROOMS:
        (tmp_path / room).mkdir()
    (tmp_path / "folds" / "_probe.py").write_text(
        "from conflux.projections.projector import ReadModel\n"
        "from conflux.projections.api._models import RunSummary\n"
    )
    found = room_violations(tmp_path)
    assert len(found) == 2, found
    assert "room folds may not depend on projector" in found[0]
    assert "a private module of room api" in found[1]
