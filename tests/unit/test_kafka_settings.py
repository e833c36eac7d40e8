"""Client settings and broker launcher prerequisites, without a broker."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from importlib.resources import files
from typing import TYPE_CHECKING

from conflux.events import kafka_config
from conflux.events.brokers import KAFKA_VERSION, kafka_available
from conflux.events.brokers._base import free_port

if TYPE_CHECKING:
    import pytest


def test_consumer_settings_follow_the_broker_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    tansu = kafka_config("h:1", broker_kind="tansu")
    kafka = kafka_config("h:1", broker_kind="kafka")
    assert tansu["session.timeout.ms"] == 3000 and tansu["fetch.wait.max.ms"] == 50
    assert kafka["session.timeout.ms"] == 10000
    for conf in (tansu, kafka):
        timeout, heartbeat = conf["session.timeout.ms"], conf["heartbeat.interval.ms"]
        assert isinstance(timeout, int) and isinstance(heartbeat, int)
        assert heartbeat * 3 <= timeout
        assert conf["bootstrap.servers"] == "h:1"
        assert isinstance(conf["logger"], logging.Logger) and conf["logger"].name == "conflux.kafka"
    monkeypatch.setenv("CONFLUX_BROKER_KIND", "tansu")
    assert kafka_config("h:1") == tansu
    monkeypatch.delenv("CONFLUX_BROKER_KIND")
    assert kafka_config("h:1") == kafka


def test_producers_get_no_consumer_settings_and_the_java_partitioner() -> None:
    producer = kafka_config("h:1", broker_kind="tansu", role="producer")
    assert "session.timeout.ms" not in producer and "fetch.wait.max.ms" not in producer
    assert producer["partitioner"] == "murmur2_random"


def test_the_pom_pins_the_version_the_launcher_caches() -> None:
    pom = files("conflux.events.brokers").joinpath("kafka-pom.xml").read_text()
    assert re.search(rf"<kafka.version>{re.escape(KAFKA_VERSION)}</kafka.version>", pom)
    assert "<artifactId>kafka_2.13</artifactId>" in pom


def test_kafka_available_says_why() -> None:
    ok, why = kafka_available()
    assert isinstance(ok, bool) and why


def test_kafka_is_unavailable_without_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert kafka_available() == (
        False,
        "no `java` (JAVA_HOME unset, none on PATH): install a JDK 17+",
    )


def test_free_port_prefers_the_previous_port_when_it_is_free() -> None:
    port = free_port()
    assert free_port(port) == port


def test_importing_the_brokers_loads_no_kafka_client() -> None:
    code = "import sys, conflux.events.brokers; print('confluent_kafka' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
