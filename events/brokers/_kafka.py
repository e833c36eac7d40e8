"""Apache Kafka as a local broker: KRaft, one node, run with the machine's JDK.

The broker's jars come from Maven Central through Maven (the pom next to this module pins
the version), resolved once into `${CONFLUX_CACHE_DIR:-~/.cache/conflux}/kafka-<version>`.
Its log lives in the state folder, so a restart on the same folder keeps every record.

Start time, measured on 2 cores: 1.5-2 s when the state folder exists (up to 3 s under
load); +1.3 s for a new state folder (storage format); the very first start on a machine
also runs Maven (4 s from a warm ~/.m2, ~22 s from Maven Central) and records a
class-data-sharing archive, which later starts map instead of loading ~4,000 classes
(3.2 s -> 1.5 s). The C1-only JIT trades peak throughput for start time: set
`CONFLUX_KAFKA_JVM_OPTS` (e.g. `-Xmx1g`) for benchmarks.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import importlib.resources
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from conflux.events._errors import BrokerStartError
from conflux.events.brokers._base import LocalBroker, free_port, tail

if TYPE_CHECKING:
    from collections.abc import Callable

KAFKA_VERSION = "4.1.1"
"""The Apache Kafka version `kafka-pom.xml` pins."""

DEFAULT_JVM_OPTS = (
    "-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData "
    "-Djava.awt.headless=true"
)
"""Small heap, serial GC and the C1 JIT: a single dev node starts in ~1.5 s on 2 cores.
`CONFLUX_KAFKA_JVM_OPTS` replaces them (e.g. `-Xmx1g` for benchmarks, with the full JIT)."""

_SERVER_PROPERTIES = """\
# Written by conflux on every start; edits are lost.
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=1
auto.create.topics.enable=false
# One node: 1 and 1. A cluster of 3 (`conflux dev --brokers 3`): every topic on all
# three, and a write acknowledged by two, so that losing one broker loses nothing.
min.insync.replicas={min_isr}
default.replication.factor={replicas}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=3
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
# Sessions down to 1 s (stock Kafka: 6 s), so that a standby coordinator can take over
# from a crashed leader in a few seconds (`conflux coordinator --session-timeout`).
group.min.session.timeout.ms=1000
# A cluster's controllers fence a broker that stops beating after 3 s (stock: 9 s), so
# that the partitions it led move to another replica within seconds of its loss.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000
# The log is the source of truth: never delete it by age or size.
log.retention.ms=-1
log.retention.bytes=-1
num.network.threads=2
num.io.threads=4
"""

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# The full configuration dump (hundreds of lines) on every start.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def cache_dir() -> Path:
    """Return `${CONFLUX_CACHE_DIR:-~/.cache/conflux}/kafka-<version>` (not created)."""
    root = os.environ.get("CONFLUX_CACHE_DIR") or Path.home() / ".cache" / "conflux"
    return Path(root) / f"kafka-{KAFKA_VERSION}"


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@functools.lru_cache(maxsize=4)
def _java_version(java: str) -> tuple[int, str] | None:
    """(major version, first line of `java -version`), or None if it does not run."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
        major = int(match.group(2))
    return major, out.splitlines()[0] if out else ""


def _jars_resolved() -> bool:
    return (cache_dir() / "resolved").is_file()


def kafka_available() -> tuple[bool, str]:
    """Whether Apache Kafka can run here: Java 17+ and (cached jars, or Maven to fetch them).

    Returns:
        (available, why): `why` says what was found, or what is missing and how to fix it.
    """
    java = _java()
    if java is None:
        return False, "no `java` (JAVA_HOME unset, none on PATH): install a JDK 17+"
    version = _java_version(java)
    if version is None or version[0] < 17:
        found = f"Java {version[0]}" if version else "not a working Java"
        return False, f"{java} is {found}; Apache Kafka {KAFKA_VERSION} needs a JDK 17+"
    libs = cache_dir() / "libs"
    if _jars_resolved():
        return True, f"Apache Kafka {KAFKA_VERSION} on Java {version[0]}, jars in {libs}"
    if shutil.which("mvn"):
        return True, (
            f"Apache Kafka {KAFKA_VERSION} on Java {version[0]}; Maven fetches its jars "
            f"into {libs} on first use"
        )
    return False, f"no Kafka jars in {libs} and no `mvn` to fetch them: install Maven"


def resolve_kafka_jars(timeout: float = 900.0) -> Path:
    """Return the folder of the broker's jars, resolving them with Maven the first time.

    Safe to call from several processes at once (a file lock serialises resolution);
    Maven's output goes to `maven.log` in the cache folder, not to the terminal.

    Raises:
        BrokerStartError: Maven is missing or failed; the message quotes its log.
    """
    root = cache_dir()
    libs = root / "libs"
    if _jars_resolved():
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _jars_resolved():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerStartError(
                f"Apache Kafka's jars are not in {libs} and there is no `mvn` to fetch them: "
                "install Maven, or run with the Tansu broker (`--broker tansu`)"
            )
        pom = root / "pom.xml"
        pom.write_bytes(
            importlib.resources.files("conflux.events.brokers")
            .joinpath("kafka-pom.xml")
            .read_bytes()
        )
        partial = root / f"libs.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        log_path = root / "maven.log"
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ]
        began = time.monotonic()
        with log_path.open("wb") as log:
            try:
                code = subprocess.run(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=root,
                    timeout=timeout,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        if code != 0 or not (partial / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
            shutil.rmtree(partial, ignore_errors=True)
            raise BrokerStartError(
                f"Maven could not fetch Apache Kafka {KAFKA_VERSION} (exit {code}); see "
                f"{log_path}, which ends with:\n{tail(log_path)}\n"
                "Check access to Maven Central, or use `--broker tansu`."
            )
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        (root / "resolved").write_text(f"{KAFKA_VERSION} in {time.monotonic() - began:.1f}s\n")
    return libs


def _read_int(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


class KafkaBroker(LocalBroker):
    """Apache Kafka (KRaft, combined broker and controller) with its log in `state_dir/kafka`.

    Restarting on the same `state_dir` keeps every topic, record and committed offset,
    and reuses the previous port when it is free (recorded in `state_dir/kafka/port`).
    Output goes to `state_dir/logs/kafka.log`.

    A node of a cluster (`KafkaCluster`) has a `node_id` above 1: its files are in
    `state_dir/kafka-<id>` and its output in `logs/kafka-<id>.log` (node 1 keeps the
    single node's places, so a cluster's first node is the single broker grown).
    """

    kind = "kafka"

    def __init__(
        self,
        state_dir: str | Path,
        *,
        node_id: int = 1,
        peers: Callable[[], list[KafkaBroker]] | None = None,
        replicas: int = 1,
        cluster_id: Callable[[], str | None] | None = None,
    ) -> None:
        """Prepare a broker whose log lives under `state_dir/kafka` (created on start).

        Args:
            state_dir: the state folder.
            node_id: the KRaft node id (1 for a single broker).
            peers: every node of its cluster, itself included (None: alone).
            replicas: the replication factor of every topic (`min.insync.replicas` is
                one less, at least 1).
            cluster_id: the cluster's id, shared by its nodes' storage (None: its own).
        """
        super().__init__(state_dir)
        self.node_id = node_id
        self._peers = peers
        self._replicas = replicas
        self._shared_id = cluster_id
        self._home = self.state_dir / ("kafka" if node_id == 1 else f"kafka-{node_id}")
        self._controller_port: int | None = None
        self._archive_tmp: Path | None = None
        self._archive: Path | None = None

    def reserve_ports(self) -> tuple[int, int]:
        """(client port, controller port): the last ones when free, recorded in its folder."""
        self._home.mkdir(parents=True, exist_ok=True)
        self._port = free_port(self._port or _read_int(self._home / "port"))
        controller = free_port(self._controller_port or _read_int(self._home / "controller-port"))
        while controller == self._port:
            controller = free_port()
        self._controller_port = controller
        (self._home / "port").write_text(f"{self._port}\n")
        (self._home / "controller-port").write_text(f"{controller}\n")
        return self._port, controller

    def stored_cluster_id(self) -> str | None:
        """The cluster id its storage was formatted with (None: not formatted yet)."""
        meta = self.data_dir / "meta.properties"
        if meta.is_file():
            match = re.search(r"^cluster\.id=(\S+)", meta.read_text(), re.MULTILINE)
            if match:
                return match.group(1)
        return None

    @property
    def version(self) -> str:
        """The Apache Kafka version, as pinned by the pom."""
        return KAFKA_VERSION

    @property
    def log_path(self) -> Path:
        """`state_dir/logs/kafka.log` (a cluster's node N > 1: `kafka-N.log`)."""
        name = "kafka.log" if self.node_id == 1 else f"kafka-{self.node_id}.log"
        return self.state_dir / "logs" / name

    @property
    def data_dir(self) -> Path:
        """Where the broker keeps its log segments and metadata."""
        return self._home / "data"

    def _prepare(self, timeout: float) -> list[str]:
        ok, why = kafka_available()
        if not ok:
            raise BrokerStartError(f"cannot run Apache Kafka: {why} (or use `--broker tansu`)")
        java = _java()
        assert java is not None  # kafka_available() checked it
        libs = resolve_kafka_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port, controller = self.reserve_ports()
        nodes = self._peers() if self._peers is not None else [self]
        voters = ",".join(
            f"{n.node_id}@127.0.0.1:{controller if n is self else n._controller_port}"
            for n in nodes
        )
        props = self._home / "server.properties"
        props.write_text(
            _SERVER_PROPERTIES.format(
                node_id=self.node_id,
                voters=voters,
                port=port,
                controller_port=controller,
                data=self.data_dir,
                replicas=self._replicas,
                min_isr=max(1, self._replicas - 1),
            )
        )
        log4j = self._home / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        opts = shlex.split(os.environ.get("CONFLUX_KAFKA_JVM_OPTS") or DEFAULT_JVM_OPTS)
        opts += [f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={self.log_path.parent}"]
        classpath = f"{libs}/*"
        self._cluster_id = self._format(java, opts, classpath, props, timeout)
        return [
            java,
            *opts,
            *self._class_sharing(java, libs),
            "-cp",
            classpath,
            "kafka.Kafka",
            str(props),
        ]

    def _format(
        self, java: str, opts: list[str], classpath: str, props: Path, timeout: float
    ) -> str:
        """Return the cluster id, formatting the storage first if it is new."""
        stored = self.stored_cluster_id()
        if stored is not None:
            return stored
        cluster_id = (self._shared_id() if self._shared_id is not None else None) or "-"
        while cluster_id.startswith("-"):  # as Kafka's Uuid: a leading '-' reads as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        (self._home / "cluster-id").write_text(f"{cluster_id}\n")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                code = subprocess.run(
                    [
                        java,
                        *opts,
                        "-cp",
                        classpath,
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        cluster_id,
                        "-c",
                        str(props),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        if code != 0:
            raise BrokerStartError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {code}); see "
                f"{self.log_path}, which ends with:\n{tail(self.log_path)}"
            )
        return cluster_id

    def _class_sharing(self, java: str, libs: Path) -> list[str]:
        """JVM flags to map (or, the first time, record) a class-data-sharing archive.

        The archive is only valid for one JVM build and one set of jars, so its name
        carries a hash of both; a stale one is simply not used.
        """
        version = _java_version(java)
        stamp = hashlib.sha256(f"{java}|{version}".encode())
        for jar in sorted(libs.glob("*.jar")):
            stat = jar.stat()
            stamp.update(f"{jar.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        archive = cache_dir() / f"kafka-{stamp.hexdigest()[:16]}.jsa"
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}"]
        self._archive = archive
        self._archive_tmp = archive.with_suffix(f".{os.getpid()}-{uuid.uuid4().hex[:6]}.tmp")
        return [f"-XX:ArchiveClassesAtExit={self._archive_tmp}"]

    def _after_stop(self) -> None:
        tmp, self._archive_tmp = self._archive_tmp, None
        if tmp is None or self._archive is None:
            return
        if tmp.is_file() and tmp.stat().st_size > 1_000_000 and not self._archive.exists():
            os.replace(tmp, self._archive)
        else:
            tmp.unlink(missing_ok=True)
