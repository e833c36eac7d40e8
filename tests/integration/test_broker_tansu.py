"""The broker contract on Tansu, the fallback broker, plus its launcher's failure modes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from broker_contract import BrokerContract

from conflux.events import BrokerStartError
from conflux.events.brokers import TansuBroker

if TYPE_CHECKING:
    from pathlib import Path

    from brokers import BrokerHandle

pytestmark = pytest.mark.integration


class TestTansuBroker(BrokerContract):
    __test__ = True

    @pytest.fixture
    def broker(self, tansu_broker: BrokerHandle) -> BrokerHandle:
        return tansu_broker


def test_stop_leaves_no_process_and_is_idempotent(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path)
    with broker:
        pid = broker.pid
        assert pid is not None and broker.bootstrap.startswith("127.0.0.1:")
    assert broker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    broker.stop()
    assert (tmp_path / "logs" / "tansu.log").read_text().count("ready") == 1


def test_a_broker_that_dies_at_start_names_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'tansu: cannot bind, giving up'\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CALF_TANSU_BIN", str(fake))
    broker = TansuBroker(tmp_path / "state")
    with pytest.raises(BrokerStartError, match="exited with code 3") as raised:
        broker.start(timeout=10)
    assert "tansu.log" in str(raised.value) and "cannot bind, giving up" in str(raised.value)
    assert broker.pid is None
