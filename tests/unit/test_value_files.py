"""FilesystemIOManager's file per key: injective, length-bounded, checked on read, no leftovers.

Issue 16, item 5: `/` became `%2F` in file names, so the keys `a/b` and `a%2Fb` shared
one file (a downstream read the other key's value), `..` failed with EBUSY, a
10,000-character key with ENAMETOOLONG, and a failed write left a `.tmp-*` file.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TYPE_CHECKING

import pytest

from conflux.sdk import (
    AssetKey,
    FilesystemIOManager,
    IOManagerError,
    MultiPartitionKey,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    build_input_context,
    build_output_context,
)

if TYPE_CHECKING:
    from pathlib import Path

ASSET = AssetKey(["raw", "orders"])


def store(
    manager: FilesystemIOManager, key: str | None, value: object, asset: AssetKey = ASSET
) -> None:
    manager.handle_output(build_output_context(asset_key=asset, partition_key=key), value)


def load(manager: FilesystemIOManager, key: str | None, asset: AssetKey = ASSET) -> object:
    return manager.load_input(build_input_context(asset_key=asset, partition_key=key))


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_keys_that_shared_a_file_now_have_their_own(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    keys = ["a/b", "a%2Fb", "A/B", "/a/b", "%2Fa%2Fb", "a", "b"]
    for i, key in enumerate(keys):
        store(manager, key, {"key": key, "i": i})
    for i, key in enumerate(keys):
        assert load(manager, key) == {"key": key, "i": i}
    names = [p.name for p in files(tmp_path)]
    assert len(names) == len(keys)
    # distinct even on a case-insensitive disk (`A/B` and `a/b`)
    assert len({n.lower() for n in names}) == len(keys)


@pytest.mark.parametrize(
    "key",
    [
        "..",
        ".",
        "",
        "...",
        "-rf",
        "__all__",
        "x" * 10_000,
        "é" * 5_000,
        "a\0b",
        "emoji 🙂 key",
        "line\nbreak",
        "C:\\windows\\path",
        "2024-01-31-13:00",
    ],
)
def test_any_key_round_trips_under_a_short_safe_name(tmp_path: Path, key: str) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    store(manager, key, [key])
    assert load(manager, key) == [key]
    [path] = files(tmp_path)
    assert path.parent == tmp_path / "raw" / "orders"  # nothing escapes the asset's folder
    # safe characters only, whatever the key: a readable prefix, then the key's hash
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,47}-[0-9a-f]{32}", path.name)
    assert path.name != "__all__"  # a partition never takes the unpartitioned value's name
    store(manager, None, "whole")
    assert load(manager, None) == "whole" and load(manager, key) == [key]


def test_unicode_forms_and_multi_partition_keys_stay_apart(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    multi = MultiPartitionKey({"date": "2024-01-31", "region": "eu/west"})
    store(manager, composed, 1)
    store(manager, decomposed, 2)
    store(manager, multi, 3)
    store(manager, "2024-01-31|eu%2Fwest", 4)
    assert [load(manager, k) for k in (composed, decomposed, multi, "2024-01-31|eu%2Fwest")] == [
        1,
        2,
        3,
        4,
    ]
    # a person finds the key in a listing: its safe characters lead the name
    assert any(p.name.startswith("2024-01-31_eu_west-") for p in files(tmp_path))


def test_asset_key_parts_dot_and_dotdot_stay_under_base_dir(tmp_path: Path) -> None:
    base = tmp_path / "base"
    manager = FilesystemIOManager(base_dir=str(base))
    for path in (["..", "x"], ["."], ["a", ".."], ["a", ".", "b"]):
        store(manager, "k", path, AssetKey(path))
    for path in (["..", "x"], ["."], ["a", ".."], ["a", ".", "b"]):
        assert load(manager, "k", AssetKey(path)) == path
    assert files(tmp_path) == files(base) and len(files(base)) == 4


def test_a_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    store(manager, "ok", 1)
    folder = manager._path(ASSET, "ok").parent
    # the rename fails for real: a folder stands where the value's file goes
    manager._path(ASSET, "blocked").mkdir()
    with pytest.raises((IOManagerError, OSError)):
        store(manager, "blocked", 2)
    # and a value the serializer refuses fails before any file is made
    with pytest.raises(IOManagerError, match="cannot store a value of type object"):
        store(manager, "refused", object())
    assert [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")] == []
    assert load(manager, "ok") == 1


def test_a_failed_write_says_where_and_how_to_fix_it(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    manager._path(ASSET, "blocked").mkdir(parents=True)
    with pytest.raises(IOManagerError, match=r"cannot store raw/orders partition 'blocked' at"):
        store(manager, "blocked", 2)


def test_a_file_holding_another_key_is_an_error_not_its_value(tmp_path: Path) -> None:
    """A hash collision, or a file copied from another asset or key, is refused on read."""
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    store(manager, "a/b", "value of a/b")
    store(manager, "a%2Fb", "value of a%2Fb")
    source, target = manager._path(ASSET, "a%2Fb"), manager._path(ASSET, "a/b")
    target.write_bytes(source.read_bytes())  # as if the two keys hashed alike
    with pytest.raises(IOManagerError, match=r"should hold raw/orders partition 'a/b'"):
        load(manager, "a/b")
    store(manager, "x", "x", AssetKey("other"))  # another asset's file for the same key
    target = manager._path(ASSET, "x")
    target.write_bytes(manager._path(AssetKey("other"), "x").read_bytes())
    with pytest.raises(IOManagerError, match="should hold raw/orders partition 'x'"):
        load(manager, "x")
    target.write_bytes(b'j"planted"')  # no header: not written by this IO manager
    with pytest.raises(IOManagerError, match="no '#conflux' header"):
        load(manager, "x")


def test_old_layout_files_are_read_only_where_their_name_is_unambiguous(tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "orders"
    folder.mkdir(parents=True)
    (folder / "2024-01-31").write_bytes(b"j" + json.dumps({"old": 1}).encode())
    (folder / "__all__").write_bytes(b"sold whole")
    (folder / "a%2Fb").write_bytes(b'j"written by a/b or a%2Fb: nobody knows"')
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    assert load(manager, "2024-01-31") == {"old": 1}
    assert load(manager, None) == "old whole"
    for key in ("a/b", "a%2Fb"):  # either key could have written it: not read
        with pytest.raises(IOManagerError, match="materialize raw/orders first"):
            load(manager, key)
    store(manager, "2024-01-31", {"new": 2})  # a new write wins over the old file
    assert load(manager, "2024-01-31") == {"new": 2}
    store(manager, None, "new whole")
    assert load(manager, None) == "new whole"


def test_a_read_of_several_partitions_returns_those_stored(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    store(manager, "a/b", 1)
    store(manager, "a%2Fb", 2)
    context = build_input_context(
        asset_key=ASSET,
        asset_partition_key_range=PartitionKeyRange("a/b", "missing"),
        asset_partitions_def=StaticPartitionsDefinition(["a/b", "a%2Fb", "missing"]),
    )
    assert context.multi_partition
    assert manager.load_input(context) == {"a/b": 1, "a%2Fb": 2}
