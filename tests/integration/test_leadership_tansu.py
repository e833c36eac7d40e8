"""The issue's trial on Tansu: leadership rests on a consumer group and on the log's order
in each partition, which Tansu keeps (its transactions do not isolate; none are used)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from test_leadership_kafka import (
    test_two_coordinators_execute_a_backfill_of_365_partitions_once as trial,
)

if TYPE_CHECKING:
    from pathlib import Path

    from brokers import BrokerHandle

    from conflux.events import Topics

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tansu_broker: BrokerHandle) -> BrokerHandle:
    return tansu_broker


def test_two_coordinators_on_tansu_execute_each_partition_once(
    broker: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    trial(broker, topics, tmp_path)
