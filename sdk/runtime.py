"""The SDK's surface for Conflux's own parts, not for users' code.

Workers execute definitions through it (`NodeExecutor`, the location snapshot), the
in-process `materialize()` drives the same executor, and the coordinator and the read
side describe conditions and sensor cursors with the SDK's own functions, on snapshot
data only (they never import user code). `from conflux import *` does not include these
names. Listed once, below (see `conflux._lazy`); each loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.sdk._asset import OutputSpec as OutputSpec
    from conflux.sdk._automation import describe as describe
    from conflux.sdk._config import (
        build_config as build_config,
        coerce_run_config as coerce_run_config,
        node_config as node_config,
    )
    from conflux.sdk._context_log import (
        ExcInfo as ExcInfo,
        LogArgs as LogArgs,
        LogSink as LogSink,
        format_log_message as format_log_message,
        log_sink as log_sink,
    )
    from conflux.sdk._definitions import IO_MANAGER_KEY as IO_MANAGER_KEY
    from conflux.sdk._execute import (
        ExecutionRequest as ExecutionRequest,
        NodeExecutor as NodeExecutor,
        error_type_name as error_type_name,
    )
    from conflux.sdk._keys import (
        CoercibleToAssetKey as CoercibleToAssetKey,
        to_asset_key as to_asset_key,
    )
    from conflux.sdk._resources_runtime import ResourceSet as ResourceSet
    from conflux.sdk._run_request import TickResult as TickResult
    from conflux.sdk._sensor import (
        cursor_positions as cursor_positions,
        position_of as position_of,
    )
    from conflux.sdk._snapshot import (
        build_location_snapshot as build_location_snapshot,
        snapshot_id as snapshot_id,
    )

__getattr__, __dir__ = lazy_package(__name__)
