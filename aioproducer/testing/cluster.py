"""Real Apache Kafka brokers (KRaft, combined broker+controller nodes) on 127.0.0.1.

``LocalKafkaCluster(brokers=1)`` starts one node; ``brokers=3`` starts three nodes forming a
three-voter quorum. Each node gets free ports, its own log directory and a small heap. The
JVMs are tracked by PID and stopped at :meth:`LocalKafkaCluster.stop`, at interpreter exit,
and (for clusters owned by a test run) when the owning Python process dies.

``version`` picks the release. Those before 3.3 run in ZooKeeper mode instead: a ZooKeeper
server (from the same resolved jars) runs as one more JVM on a free loopback port, started
before the brokers and stopped after them.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aioproducer.errors import ProducerError
from aioproducer.testing.admin import AdminClient, PartitionState, create_fresh_topic
from aioproducer.testing.jars import HarnessError, java_command, kafka_libs
from aioproducer.testing.versions import KAFKA_VERSION, uses_zookeeper

__all__ = ["BrokerNode", "LocalKafkaCluster", "free_port", "free_ports", "running_clusters"]

_LOG4J = Path(__file__).with_name("log4j2.properties")
_LIVE: set[LocalKafkaCluster] = set()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports on 127.0.0.1, free right now: each is held bound until
    all are chosen (ports chosen one after the other can repeat once the first is let go,
    and a broker refuses two listeners on one port)."""
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL it when the parent process dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_runs(pid: int, properties: Path) -> bool:
    """True when process ``pid`` lives and, where ``/proc`` can tell, was started with
    ``properties`` as an argument (so a PID the system has since reused is not taken for it)."""
    if not _pid_alive(pid):
        return False
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not Path("/proc/self").exists()  # no procfs here: the PID is all there is
    return os.fsencode(properties) in arguments


@dataclass
class BrokerNode:
    """One combined broker+controller node (or, with id 0, a ZooKeeper-mode cluster's
    ZooKeeper server: ``port`` is its client port, ``properties_file`` its configuration)."""

    node_id: int
    port: int
    controller_port: int
    directory: Path
    pid: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    listener_ports: dict[str, int] = field(default_factory=dict)
    """Ports of the cluster's extra listeners, by listener name."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def listener_address(self, listener: str) -> str:
        """``127.0.0.1:port`` of the extra listener named ``listener`` on this node."""
        return f"127.0.0.1:{self.listener_ports[listener]}"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    @property
    def properties_file(self) -> Path:
        return self.directory / "server.properties"

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and _pid_runs(self.pid, self.properties_file)


class LocalKafkaCluster:
    """A Kafka cluster of ``brokers`` KRaft nodes started from Maven-resolved jars."""

    def __init__(
        self,
        brokers: int = 1,
        *,
        broker_config: Mapping[str, str] | None = None,
        version: str = KAFKA_VERSION,
        workdir: Path | None = None,
        heap: str = "512m",
        die_with_parent: bool = True,
        listeners: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
        classpath: Sequence[Path] = (),
        jvm_options: Sequence[str] = (),
    ) -> None:
        """``listeners`` adds listeners beside PLAINTEXT (name -> security protocol, each
        on its own free port); ``format_args`` go to ``kafka-storage format`` (such as
        ``--add-scram``); ``classpath`` adds directories or jars to the brokers' class path
        (plugins, such as :func:`aioproducer.testing.telemetry.build_recorder`'s);
        ``jvm_options`` go to every JVM (such as ``-Djava.security.krb5.conf``)."""
        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        self.version = version
        self.heap = heap
        self.broker_config = dict(broker_config or {})
        self.listeners = dict(listeners or {})
        self.format_args = tuple(format_args)
        self.classpath = tuple(Path(p) for p in classpath)
        self.jvm_options = tuple(jvm_options)
        self.die_with_parent = die_with_parent
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="aioproducer-kafka-"))
        self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # every port of every node (and ZooKeeper's) chosen at once: all different
        ports = iter(free_ports(brokers * (2 + len(self.listeners)) + 1))
        self.nodes = [
            BrokerNode(
                i,
                next(ports),
                next(ports),
                self.workdir / f"node-{i}",
                listener_ports={name: next(ports) for name in self.listeners},
            )
            for i in range(1, brokers + 1)
        ]
        self.zookeeper: BrokerNode | None = None
        """The ZooKeeper server of a release before 3.3 (None in KRaft mode)."""
        self._started = False
        if uses_zookeeper(version):
            self.zookeeper = BrokerNode(0, next(ports), 0, self.workdir / "zookeeper")

    # -- life cycle ---------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def listener_bootstrap(self, listener: str) -> str:
        """The bootstrap string of the extra listener named ``listener``."""
        return ",".join(node.listener_address(listener) for node in self.nodes)

    def start(self, timeout: float = 180.0) -> Self:
        """Format storage (KRaft) or start ZooKeeper, launch every node and wait until all
        are registered. Once: a second start() raises HarnessError (it would launch a
        second JVM per node on the same data and ports); ``with cluster.start():`` starts
        it once."""
        if self._started:
            raise HarnessError("this cluster is started already (stop() it first)")
        self._started = True
        libs = kafka_libs(self.version)
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            node.properties_file.write_text(self._properties(node))
        _LIVE.add(self)
        try:
            self._start(libs, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, libs: Path, timeout: float) -> None:
        if self.zookeeper is not None:
            self._start_zookeeper(libs, self.zookeeper, timeout)
        else:
            formats = [
                self._java(libs, node, "kafka.tools.StorageTool", "format") for node in self.nodes
            ]
            for node, proc in zip(self.nodes, formats, strict=True):
                if proc.wait(timeout=timeout) != 0:
                    raise HarnessError(
                        f"formatting node {node.node_id} failed: {_tail(node.log_file)}"
                    )
        for node in self.nodes:
            self._launch(libs, node)
        self.wait_ready(timeout)

    def stop(self) -> None:
        """Stop every JVM this cluster started (SIGTERM, then SIGKILL) and remove its files;
        ZooKeeper last, since brokers shutting down still talk to it."""
        self._stop_nodes(self.nodes)
        if self.zookeeper is not None:
            self._stop_nodes([self.zookeeper])
        self._started = False
        _LIVE.discard(self)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def detach(self) -> None:
        """Leave the JVMs running when this process exits (for ``python -m ... up``)."""
        _LIVE.discard(self)

    def __enter__(self) -> Self:
        return self if self._started else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _stop_nodes(self, nodes: list[BrokerNode]) -> None:
        for node in nodes:
            self._signal(node, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for node in nodes:
            while node.running() and time.monotonic() < deadline:
                time.sleep(0.1)
            if node.running():
                self._signal(node, signal.SIGKILL)
            self._reap(node)

    def _start_zookeeper(self, libs: Path, zookeeper: BrokerNode, timeout: float) -> None:
        """Launch the ZooKeeper server and wait until its client port accepts connections."""
        zookeeper.directory.mkdir(parents=True, exist_ok=True)
        settings = {
            "dataDir": str(zookeeper.directory / "data"),
            "clientPort": str(zookeeper.port),
            "clientPortAddress": "127.0.0.1",
            "tickTime": "2000",
            "maxClientCnxns": "0",
            "admin.enableServer": "false",  # else Jetty takes port 8080
        }
        zookeeper.properties_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        zookeeper.process = self._java(
            libs, zookeeper, "org.apache.zookeeper.server.ZooKeeperServerMain", heap="128m"
        )
        zookeeper.pid = zookeeper.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not zookeeper.running():
                raise HarnessError(f"ZooKeeper exited: {_tail(zookeeper.log_file)}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", zookeeper.port), timeout=1).close()
                return
            time.sleep(0.1)
        raise HarnessError(f"ZooKeeper did not listen within {timeout:.0f}s")

    # -- failover control ---------------------------------------------------------------
    def node(self, node_id: int) -> BrokerNode:
        return next(node for node in self.nodes if node.node_id == node_id)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would."""
        node = self.node(node_id)
        self._signal(node, signal.SIGKILL)
        self._reap(node)

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        """Start a stopped node again with the same ports and data, and wait until it serves."""
        node = self.node(node_id)
        if node.running():
            raise HarnessError(f"node {node_id} is still running")
        self._launch(kafka_libs(self.version), node)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every running node answers and the cluster lists all of them."""
        deadline = time.monotonic() + timeout
        expected = {node.node_id for node in self.nodes if node.running()}
        last: Exception | None = None
        while time.monotonic() < deadline:
            dead = [node for node in self.nodes if node.node_id in expected and not node.running()]
            if dead:
                raise HarnessError(f"node {dead[0].node_id} exited: {_tail(dead[0].log_file)}")
            try:
                for node in self.nodes:
                    if node.node_id in expected:
                        with self.admin(node.address) as admin:
                            if expected <= set(admin.brokers()):
                                continue
                            raise HarnessError("not every broker is registered yet")
                return
            except (OSError, HarnessError, ProducerError) as exc:
                last = exc
                time.sleep(0.25)
        raise HarnessError(f"Kafka did not become ready in {timeout:.0f}s: {last}")

    def partition_state(self, topic: str, partition: int) -> PartitionState:
        with self.admin() as admin:
            return admin.partition_state(topic, partition)

    def leader_for(self, topic: str, partition: int) -> int:
        """Return the node id of the partition's current leader (-1 when none)."""
        return self.partition_state(topic, partition).leader

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, HarnessError, ProducerError):
                if predicate():
                    return
            time.sleep(0.2)
        raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")

    def wait_for_new_leader(self, topic: str, partition: int, old: int, timeout: float = 60) -> int:
        self.wait_for(
            lambda: self.leader_for(topic, partition) not in (old, -1),
            timeout,
            f"a new leader of {topic}-{partition}",
        )
        return self.leader_for(topic, partition)

    def wait_in_sync(self, topic: str, partition: int, node_id: int, timeout: float = 120) -> None:
        self.wait_for(
            lambda: node_id in self.partition_state(topic, partition).isr,
            timeout,
            f"node {node_id} to rejoin the ISR of {topic}-{partition}",
        )

    # -- topics -------------------------------------------------------------------------
    def admin(self, address: str | None = None) -> AdminClient:
        """A blocking admin client on one running node (any, when ``address`` is None)."""
        return AdminClient(address or self._any_address())

    def create_topic(
        self,
        name: str | None = None,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> str:
        return create_fresh_topic(self._any_address(), name, partitions, replication_factor, config)

    def _any_address(self) -> str:
        """A running node's address (the first node's when none runs)."""
        return next((n.address for n in self.nodes if n.running()), self.nodes[0].address)

    # -- state file, for the command line ------------------------------------------------
    def describe(self) -> dict[str, object]:
        return {
            "version": self.version,
            "workdir": str(self.workdir),
            "bootstrap_servers": self.bootstrap_servers,
            "broker_config": self.broker_config,
            "listeners": self.listeners,
            "format_args": list(self.format_args),
            "classpath": [str(p) for p in self.classpath],
            "jvm_options": list(self.jvm_options),
            "nodes": [_describe_node(n) for n in self.nodes],
            "zookeeper": None if self.zookeeper is None else _describe_node(self.zookeeper),
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.describe(), indent=2))

    @classmethod
    def load(cls, path: Path) -> LocalKafkaCluster:
        data = json.loads(path.read_text())
        cluster = cls.__new__(cls)
        cluster.version = data["version"]
        cluster.heap = "512m"
        cluster.broker_config = dict(data.get("broker_config", {}))
        cluster.listeners = dict(data.get("listeners", {}))
        cluster.format_args = tuple(data.get("format_args", ()))
        cluster.classpath = tuple(Path(p) for p in data.get("classpath", ()))
        cluster.jvm_options = tuple(data.get("jvm_options", ()))
        cluster.die_with_parent = False
        cluster._own_workdir = True
        cluster.workdir = Path(data["workdir"])
        cluster.cluster_id = ""
        cluster.nodes = [_load_node(n) for n in data["nodes"]]
        zookeeper = data.get("zookeeper")
        cluster.zookeeper = None if zookeeper is None else _load_node(zookeeper)
        return cluster

    # -- internals ----------------------------------------------------------------------
    def _properties(self, node: BrokerNode) -> str:
        n = len(self.nodes)
        settings = self._mode_properties(node)
        settings |= {
            "log.dirs": str(node.directory / "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": str(min(3, n)),
            "transaction.state.log.replication.factor": str(min(3, n)),
            "transaction.state.log.min.isr": str(min(2, n)),
            # Kafka creates these internal topics at their first use (the first
            # InitProducerId, the first group); 50 partitions each take seconds on a busy
            # machine, a few are enough for tests.
            "transaction.state.log.num.partitions": "4",
            "offsets.topic.num.partitions": "4",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "unclean.leader.election.enable": "false",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        settings.update(self.broker_config)
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _mode_properties(self, node: BrokerNode) -> dict[str, str]:
        """The settings of KRaft mode, or of ZooKeeper mode."""
        if self.zookeeper is not None:
            return {
                "broker.id": str(node.node_id),
                "zookeeper.connect": f"127.0.0.1:{self.zookeeper.port}",
                "listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            }
        n = len(self.nodes)
        voters = ",".join(f"{m.node_id}@127.0.0.1:{m.controller_port}" for m in self.nodes)
        served = {"PLAINTEXT": node.port} | node.listener_ports
        advertised = ",".join(f"{name}://127.0.0.1:{port}" for name, port in served.items())
        protocols = {"PLAINTEXT": "PLAINTEXT", "CONTROLLER": "PLAINTEXT"} | self.listeners
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"{advertised},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(f"{k}:{v}" for k, v in protocols.items()),
            "share.coordinator.state.topic.replication.factor": str(min(3, n)),
            "share.coordinator.state.topic.min.isr": str(min(2, n)),
            # Notice a killed node within a few seconds instead of nine.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
        }

    def _java(
        self, libs: Path, node: BrokerNode, main: str, *args: str, heap: str | None = None
    ) -> subprocess.Popen[bytes]:
        props = str(node.properties_file)
        extra = [props]
        if args == ("format",):  # the "=" form: a cluster id may start with "-"
            extra = [f"--cluster-id={self.cluster_id}", "-c", props, "--ignore-formatted"]
            extra += self.format_args
        heap = heap or self.heap
        jvm = [
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_LOG4J}",
            *self.jvm_options,
        ]
        command = java_command(main, *args, *extra, libs=libs, jvm=jvm, classpath=self.classpath)
        log = node.log_file.open("ab")
        try:
            return subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=node.directory,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
            )
        finally:
            log.close()

    def _launch(self, libs: Path, node: BrokerNode) -> None:
        node.process = self._java(libs, node, "kafka.Kafka")
        node.pid = node.process.pid

    @staticmethod
    def _signal(node: BrokerNode, sig: signal.Signals) -> None:
        if node.pid is not None and node.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, sig)

    @staticmethod
    def _reap(node: BrokerNode) -> None:
        if node.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=30)
        elif node.pid is not None:
            deadline = time.monotonic() + 30
            while node.running() and time.monotonic() < deadline:
                time.sleep(0.1)
        node.process = None
        node.pid = None


def _describe_node(node: BrokerNode) -> dict[str, object]:
    return {
        "node_id": node.node_id,
        "port": node.port,
        "controller_port": node.controller_port,
        "pid": node.pid,
        "directory": str(node.directory),
        "listener_ports": node.listener_ports,
    }


def _load_node(data: Mapping[str, Any]) -> BrokerNode:
    return BrokerNode(
        data["node_id"],
        data["port"],
        data["controller_port"],
        Path(data["directory"]),
        data["pid"],
        listener_ports=dict(data.get("listener_ports", {})),
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def running_clusters() -> Iterator[LocalKafkaCluster]:
    """The clusters this process started and has not stopped yet."""
    return iter(list(_LIVE))


@atexit.register
def _stop_all() -> None:
    for cluster in list(_LIVE):
        with contextlib.suppress(Exception):
            cluster.stop()
