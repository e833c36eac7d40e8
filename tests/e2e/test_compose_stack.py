"""compose/'s stack rehearsed without Docker: its own settings, run as local processes.

No Docker engine runs here, so the compose file cannot be started; what it configures can.
Three Apache Kafka nodes (the Maven-resolved jars, the version the image pins) get the
brokers' environment from docker-compose.yml, turned into server.properties by the rule the
apache/kafka image applies (only host names, ports and the data folder are made local).
Then the topics job, the coordinator, the projector and a worker run with the commands,
environment and health checks the compose file gives them (the projector keeps its archive
in chdb: no ClickHouse server here). A run materializes; every topic has three replicas
and min.insync.replicas 2; with one broker stopped, the next run still succeeds.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from confluent_kafka.admin import AdminClient, ConfigResource

from conflux.events import Topics, kafka_config, wait_for_broker
from conflux.events.brokers import kafka_available, resolve_kafka_jars
from conflux.events.brokers._base import free_port
from conflux.events.brokers._kafka import _LOG4J2, DEFAULT_JVM_OPTS

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
STACK: dict[str, Any] = yaml.safe_load((ROOT / "compose" / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = STACK["services"]
BROKERS = ("kafka-1", "kafka-2", "kafka-3")
BIN = Path(sys.executable).parent


def property_name(variable: str) -> str:
    """`KAFKA_LOG_RETENTION_MS` -> `log.retention.ms`, as the apache/kafka image renders it."""
    return variable.removeprefix("KAFKA_").lower().replace("_", ".")


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(started):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def start_brokers(work: Path, started: list[subprocess.Popen[bytes]]) -> str:
    """The three Kafka nodes as compose configures them; returns the bootstrap servers."""
    ports = {name: (free_port(), free_port()) for name in BROKERS}

    def local(value: str) -> str:
        for name, (port, controller) in ports.items():
            value = value.replace(f"{name}:9092", f"127.0.0.1:{port}")
            value = value.replace(f"{name}:9093", f"127.0.0.1:{controller}")
        return value

    log4j = work / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    java = ["java", *shlex.split(DEFAULT_JVM_OPTS), f"-Dlog4j2.configurationFile={log4j}"]
    java += ["-cp", f"{resolve_kafka_jars()}/*"]
    for name, (port, controller) in ports.items():
        env = SERVICES[name]["environment"]
        props = {property_name(k): local(str(v)) for k, v in env.items() if k.startswith("KAFKA_")}
        props["listeners"] = f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"
        props["log.dirs"] = str(work / name)
        path = work / f"{name}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        format_ = [*java, "kafka.tools.StorageTool", "format", "-t", env["CLUSTER_ID"]]
        subprocess.run([*format_, "-c", str(path)], check=True, capture_output=True, timeout=120)
        with (work / f"{name}.log").open("wb") as log:
            started.append(
                subprocess.Popen([*java, "kafka.Kafka", str(path)], stdout=log, stderr=log)
            )
    return ",".join(f"127.0.0.1:{port}" for port, _ in ports.values())


def command(service: str, work: Path) -> list[str]:
    """A service's command, its container paths mapped into `work` and the repository."""
    mapped = {
        "/var/lib/conflux/storage": str(work / "storage"),
        "/app": str(ROOT / "examples" / "quickstart"),
    }
    mapped["/var/lib/conflux"] = str(work / service)
    args = [mapped.get(arg, arg) for arg in SERVICES[service]["command"]]
    if "--metrics-port" in args:  # one host here, not one container each: a port each
        args[args.index("--metrics-port") + 1] = str(free_port())
    return args


def test_the_compose_stack_runs_and_survives_losing_a_broker(tmp_path: Path) -> None:
    ok, why = kafka_available()
    if not ok:
        pytest.skip(f"Apache Kafka cannot run here: {why}")
    api_port = free_port()
    with processes() as started:
        bootstrap = start_brokers(tmp_path, started)
        env = {
            **os.environ,
            **STACK["x-conflux-env"],
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
        env |= {
            "CONFLUX_BOOTSTRAP": bootstrap,
            "CONFLUX_API": f"http://127.0.0.1:{api_port}",
            "CONFLUX_API_TOKEN": "compose-rehearsal",
        }

        def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
            return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)

        def start(service: str, args: list[str]) -> None:
            (tmp_path / service).mkdir(exist_ok=True)
            with (tmp_path / f"{service}.log").open("wb") as log:
                started.append(
                    subprocess.Popen([str(BIN / "conflux"), *args], env=env, stdout=log, stderr=log)
                )

        wait_for_broker(bootstrap, timeout=120)
        assert SERVICES["topics"]["entrypoint"] == ["conflux-create-topics"]
        made = run(sys.executable, str(ROOT / "compose" / "create_topics.py"), timeout=180)
        core = len(Topics("conflux").core())
        assert made.returncode == 0, made.stderr
        assert f"{core} topics, 3 replicas each" in made.stdout, made.stdout

        (tmp_path / "storage").mkdir()
        start("coordinator-1", command("coordinator-1", tmp_path))
        start("coordinator-2", command("coordinator-2", tmp_path))
        projector = command("projector", tmp_path)
        projector[projector.index("--port") + 1] = str(api_port)
        start("projector", [*projector, "--state-dir", str(tmp_path / "projector")])
        start("worker-quickstart", command("worker-quickstart", tmp_path))

        deadline = time.monotonic() + 180
        while (status := run(str(BIN / "conflux"), "status")).returncode != 0:
            assert time.monotonic() < deadline, status.stdout + status.stderr
            time.sleep(1)
        for part in ("projector", "coordinator", "worker"):
            health = run(sys.executable, str(ROOT / "compose" / "healthcheck.py"), part)
            assert health.returncode == 0, (part, health.stderr)

        done = run(
            str(BIN / "conflux"),
            "materialize",
            "raw_orders*",
            "--partition",
            "2024-01-01",
            "--wait",
        )
        assert done.returncode == 0 and "success: 3 materialized" in done.stdout, done.stderr

        # librdkafka's own log goes to a logger, never to the terminal: a client left alive
        # (a failed assertion keeps this frame) would print every second once the brokers
        # stop, into the output of the tests after this one.
        admin = AdminClient(dict(kafka_config(bootstrap, role="admin")))  # type: ignore[arg-type]
        try:
            topics = {
                n: t
                for n, t in admin.list_topics(timeout=10).topics.items()
                if n.startswith("conflux.")
            }
            resources = [ConfigResource("topic", name) for name in sorted(topics)]
            configs = {
                r.name: future.result() for r, future in admin.describe_configs(resources).items()
            }
        finally:
            del admin
        assert "conflux.work.quickstart" in topics and "conflux.ticks.quickstart" in topics
        for name, topic in topics.items():
            assert {len(p.replicas) for p in topic.partitions.values()} == {3}, name
        for name, config in configs.items():
            assert config["min.insync.replicas"].value == "2", name

        kafka_3 = started[2]
        kafka_3.send_signal(signal.SIGTERM)
        try:
            kafka_3.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a controlled shutdown can stall on a busy machine
            kafka_3.kill()
            kafka_3.wait(timeout=30)
        done = run(
            str(BIN / "conflux"),
            "materialize",
            "raw_orders*",
            "--partition",
            "2024-01-02",
            "--wait",
            timeout=180,
        )
        assert done.returncode == 0 and "success: 3 materialized" in done.stdout, done.stderr
