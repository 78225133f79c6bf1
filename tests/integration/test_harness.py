"""The harness itself: a real broker answers, and an independent client can use it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

import aioproducer
from aioproducer.testing import AdminClient, LocalKafkaCluster, kafka_libs
from aioproducer.testing.jars import HarnessError
from aioproducer.testing.pytest_plugin import KafkaClusterHandle, TopicFactory
from aioproducer.testing.state import state_file

pytestmark = pytest.mark.integration


def test_confluent_round_trip(kafka_cluster: KafkaClusterHandle, new_topic: TopicFactory) -> None:
    """confluent-kafka produces and consumes through the harness's broker."""
    topic = new_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(100):
        producer.produce(topic, value=f"v{i}".encode(), key=f"k{i}".encode())
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_cluster.bootstrap_servers,
            "group.id": f"g-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[bytes] = []
    for _ in range(300):
        msg = consumer.poll(0.2)
        value = msg.value() if msg is not None and msg.error() is None else None
        if value is not None:
            seen.append(value)
        if len(seen) == 100:
            break
    consumer.close()
    assert sorted(seen) == sorted(f"v{i}".encode() for i in range(100))


def test_topics_are_fresh(new_topic: TopicFactory) -> None:
    assert new_topic() != new_topic()


@pytest.mark.cluster
@pytest.mark.slow
def test_failover_control(kafka_cluster3: LocalKafkaCluster) -> None:
    """Kill a partition's leader: a new one is elected; the old one rejoins the ISR."""
    topic = kafka_cluster3.create_topic(
        partitions=1, replication_factor=3, config={"min.insync.replicas": "2"}
    )
    old = kafka_cluster3.leader_for(topic, 0)
    pid = kafka_cluster3.node(old).pid
    assert pid is not None
    kafka_cluster3.kill(old)
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    new = kafka_cluster3.wait_for_new_leader(topic, 0, old)
    assert new != old
    kafka_cluster3.restart(old)
    kafka_cluster3.wait_in_sync(topic, 0, old)
    assert old in kafka_cluster3.partition_state(topic, 0).isr


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_command_line_cluster_belongs_to_its_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``up``, ``up`` again, ``status`` and ``down`` from one checkout (a directory with a
    pyproject.toml) start, reuse, show and stop one broker; another checkout sees none."""
    libs = kafka_libs()  # the jars stay shared: the temporary cache links to them
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / libs.parent.name).symlink_to(libs.parent)
    monkeypatch.setenv("AIOPRODUCER_CACHE", str(cache))
    source = Path(aioproducer.__file__).parent.parent
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])
    )
    first, second = (tmp_path / "first").resolve(), (tmp_path / "second").resolve()
    for checkout in (first, second):
        (checkout / "sub").mkdir(parents=True)
        (checkout / "pyproject.toml").write_text("")

    def run(checkout: Path, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aioproducer.testing", command],
            cwd=checkout / "sub",
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )

    try:
        up = run(first, "up")
        assert up.returncode == 0, up.stderr
        bootstrap = up.stdout.strip()
        assert up.stdout == f"{bootstrap}\n"
        assert f"started a new broker {bootstrap} (pid " in up.stderr
        assert f"for checkout {first}\n" in up.stderr
        pid = LocalKafkaCluster.load(state_file(first)).nodes[0].pid
        assert pid is not None
        with AdminClient(bootstrap) as admin:
            assert admin.brokers() == [1]

        again = run(first, "up")
        assert again.stdout == up.stdout
        assert f"reusing the broker {bootstrap} (pid {pid}) of checkout {first}" in again.stderr
        status = run(first, "status")
        assert status.returncode == 0
        assert f"checkout {first} " in status.stdout
        assert f"pid {pid}" in status.stdout

        for command in ("status", "down"):
            elsewhere = run(second, command)
            assert elsewhere.stdout == f"no cluster running for checkout {second}\n"
        assert run(first, "status").returncode == 0  # the other checkout's down left it alone

        down = run(first, "down")
        assert down.stdout == f"stopped broker {bootstrap} (pid {pid}) of checkout {first}\n"
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
        assert [p.name for p in (cache / "clusters").iterdir() if p.suffix != ".lock"] == []
    finally:
        run(first, "down")


def _jvms_of(properties: Path) -> list[int]:
    """The processes whose command line names ``properties`` (a node's JVMs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(properties).encode() in arguments and not _is_zombie(int(entry.name)):
                found.append(int(entry.name))
    return found


def test_a_cluster_starts_once(tmp_path: Path) -> None:
    """``with cluster.start():`` launches one JVM per node, and a second start() raises:
    it used to launch a second JVM on the same data and ports, which failed to bind and
    could corrupt the first one's metadata log."""
    cluster = LocalKafkaCluster(1, workdir=tmp_path)
    with cluster.start():
        node = cluster.nodes[0]
        with pytest.raises(HarnessError, match="started already"):
            cluster.start()
        assert _jvms_of(node.properties_file) == [node.pid]
        with AdminClient(node.address) as admin:
            assert admin.finalized_features() is not None
    assert _jvms_of(node.properties_file) == []
