"""One record must not stop the system (issue 16): a poison record on the assets topic is
dead-lettered by every consumer, work goes on, and `dev` starts again on the same log.

The record is `[` x 2000 then `]` x 2000: deeper than Python's JSON parser can go. It used
to raise `RecursionError` in the coordinator and the projector, which crash-looped on it,
and a restart read it again.
"""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Producer
from dev_process import conflux, running_dev, stop, wait_for

from conflux.events import kafka_config

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

DEFS = textwrap.dedent(
    """
    from conflux import Definitions, StaticPartitionsDefinition, asset

    colors = StaticPartitionsDefinition(["red", "green"])

    @asset(partitions_def=colors)
    def paint(context) -> str:
        return context.partition_key

    defs = Definitions(assets=[paint])
    """
)
POISON = b"[" * 2000 + b"]" * 2000


def _dead_letters(state: Path) -> list[dict[str, object]]:
    found = conflux(state, "events", "--type", "RecordDeadLettered", "--json")
    assert found.returncode == 0, found.stderr
    letters: list[dict[str, object]] = json.loads(found.stdout)
    return letters


def test_a_poison_record_is_dead_lettered_and_the_system_goes_on(tmp_path: Path) -> None:
    definitions = tmp_path / "definitions.py"
    definitions.write_text(DEFS)
    state = tmp_path / ".conflux"

    with running_dev(definitions, state, "kafka", prefix="poison") as (dev, _):
        bootstrap = json.loads((state / "dev.json").read_text())["bootstrap"]
        producer = Producer(kafka_config(bootstrap, role="producer"))
        producer.produce("poison.assets", value=POISON, key=b"paint#red")
        assert producer.flush(10) == 0
        wait_for(lambda: _dead_letters(state), timeout=30)

        done = conflux(state, "materialize", "paint", "--partition", "red", "--wait")
        assert done.returncode == 0, done.stderr
        assert conflux(state, "status").returncode == 0
        assert stop(dev) == 0

    with running_dev(definitions, state, "kafka", prefix="poison"):  # reads the record again
        assert conflux(state, "status").returncode == 0
        done = conflux(state, "materialize", "paint", "--partition", "green", "--wait")
        assert done.returncode == 0, done.stderr
        letters = _dead_letters(state)
        assert letters and all("nested too deeply" in str(e) for e in letters), letters
