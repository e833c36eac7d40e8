"""Checks a writer makes through the query API before it puts anything on the log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux.events import ConfluxError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def check_partition_keys(
    asset_keys: Sequence[str], keys: Sequence[str], validate: Callable[[str, str], None]
) -> None:
    """Refuse keys that no selected asset has, before anything is emitted.

    `validate(asset, key)` raises `ConfluxError` when the asset has no such key: the read
    model's `validate_partition` in the projector, the query API's through `ApiTransport`
    in the CLI.

    Raises:
        ConfluxError: a key no selected asset has (the first asset's reason).
    """
    for key in keys:
        errors: list[str] = []
        for asset_key in asset_keys:
            try:
                validate(asset_key, key)
            except ConfluxError as exc:
                errors.append(str(exc))
            else:
                break
        else:
            raise ConfluxError(errors[0] if errors else f"no selected asset has partition {key}")
