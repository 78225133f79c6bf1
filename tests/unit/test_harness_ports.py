"""The harness's ports: every port of a local cluster is different (a broker refuses two
listeners on one port, which ports chosen one at a time could give), no broker needed."""

from __future__ import annotations

from pathlib import Path

from aioproducer.testing import LocalKafkaCluster
from aioproducer.testing.cluster import free_ports


def test_free_ports_are_all_different() -> None:
    for _ in range(20):
        ports = free_ports(40)
        assert len(set(ports)) == 40
        assert all(0 < port < 65536 for port in ports)


def test_a_clusters_ports_are_all_different(tmp_path: Path) -> None:
    listeners = dict.fromkeys(("SSL", "MTLS", "SASL_SSL", "REAUTH", "X"), "PLAINTEXT")
    for _ in range(10):
        cluster = LocalKafkaCluster(3, workdir=tmp_path, listeners=listeners)
        ports = [p for node in cluster.nodes for p in (node.port, node.controller_port)]
        ports += [p for node in cluster.nodes for p in node.listener_ports.values()]
        assert len(ports) == 3 * (2 + len(listeners))
        assert len(set(ports)) == len(ports)
