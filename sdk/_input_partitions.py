"""Which upstream partitions an asset call reads, per input: the context's `*_for_input`.

Dagster's `context.asset_partition_keys_for_input("upstream")` answers from the partition
mapping, whether or not the upstream partitions hold values; so does this, with the same
mapping the planner uses (the dependency's, or the default between the two definitions).
An input is named by its parameter (`ins`), or, for `deps`, by the upstream key's last
name (or its whole `a/b` path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.sdk._context import ContextError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.sdk._asset import AssetsDefinition
    from conflux.sdk._definitions import Definitions
    from conflux.sdk.partitions import PartitionsDefinition


@dataclass(frozen=True)
class InputPartitions:
    """Resolves an input name to its upstream definition and the keys one call reads.

    Attributes:
        defs: the definitions the node belongs to.
        node: the asset (or multi-asset) being executed.
        keys: the partitions of this call (`[None]` when unpartitioned).
    """

    defs: Definitions
    node: AssetsDefinition
    keys: Sequence[str | None]

    def __call__(self, input_name: str) -> tuple[PartitionsDefinition | None, list[str]]:
        """The upstream's partitions definition and the upstream keys this call reads.

        Raises:
            ContextError: no input or dependency has that name.
        """
        from conflux.sdk.partitions import default_partition_mapping

        found = None
        for out in self.node.outputs:
            for key, mapping, loads in self.node.upstream_of(out):
                names = (
                    {inp.param for inp in self.node.inputs if inp.key == key}
                    if loads
                    else {key.path[-1], key.to_user_string()}
                )
                if input_name in names:
                    found = (key, mapping)
        if found is None:
            known = sorted(
                {inp.param for inp in self.node.inputs} | {d.key.path[-1] for d in self.node.deps}
            )
            raise ContextError(
                f"{self.node.node} has no input named {input_name!r}: use one of "
                f"{', '.join(known) or '(none)'} (a parameter, or a dep's last key name)"
            )
        key, mapping = found
        up_def = self.defs.partitions_def_for(key)
        down_def = self.node.partitions_def
        effective = mapping or default_partition_mapping(down_def, up_def)
        read: list[str] = []
        seen: set[str] = set()
        for downstream_key in self.keys:
            for k in effective.get_upstream_partition_keys(downstream_key, down_def, up_def):
                if k is not None and k not in seen:
                    seen.add(k)
                    read.append(k)
        if up_def is not None and len(self.keys) > 1:
            order = {k: i for i, k in enumerate(up_def.get_partition_keys())}
            read.sort(key=lambda k: order.get(k, len(order)))
        return up_def, read
