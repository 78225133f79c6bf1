"""Client quotas set with Kafka's own ``ConfigCommand`` (from the harness's jars).

A producer byte-rate quota makes the broker throttle a client id: the way tests put a
producer under overload (it produces faster than the broker takes) against a real broker.
"""

from __future__ import annotations

import subprocess

from aioproducer.testing.jars import HarnessError, java_command

__all__ = ["set_producer_byte_rate"]


def set_producer_byte_rate(bootstrap: str, client_id: str, bytes_per_second: int | None) -> None:
    """Throttle ``client_id`` to ``bytes_per_second`` of produced data (None: remove it)."""
    change = (
        ["--delete-config", "producer_byte_rate"]
        if bytes_per_second is None
        else ["--add-config", f"producer_byte_rate={bytes_per_second}"]
    )
    command = java_command(
        "org.apache.kafka.tools.ConfigCommand",
        "--bootstrap-server",
        bootstrap,
        "--alter",
        *change,
        "--entity-type",
        "clients",
        "--entity-name",
        client_id,
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or "Completed" not in done.stdout:
        raise HarnessError(f"ConfigCommand failed ({done.returncode}): {done.stdout}{done.stderr}")
