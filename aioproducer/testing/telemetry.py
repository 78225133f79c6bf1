"""A broker-side recorder of the client metrics producers push (KIP-714), for tests.

:func:`build_recorder` compiles ``java/TelemetryRecorder.java`` (a ``MetricsReporter``
implementing ``ClientTelemetry``) with ``javac`` against the broker's own jars, once per
Kafka version and source; a :class:`TelemetryRecorder` gives the broker settings that load
it, sets a client-metrics subscription, and reads back every push the broker received, each
decoded by Kafka's own OTLP classes::

    recorder = TelemetryRecorder.build(tmp_path / "pushes.jsonl")
    with LocalKafkaCluster(
        1, broker_config=recorder.broker_config(), classpath=[recorder.classes]
    ) as cluster:
        recorder.subscribe(cluster.bootstrap_servers, interval_ms=500)
        ...  # run a producer
        recorder.pushes()  # [{"terminating": False, "points": [{"name": ..., ...}]}, ...]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aioproducer.testing.jars import (
    HarnessError,
    cache_lock,
    cache_root,
    java_command,
    kafka_libs,
)
from aioproducer.testing.versions import KAFKA_VERSION

__all__ = ["RECORDER_CLASS", "TelemetryRecorder", "build_recorder"]

RECORDER_CLASS = "aioproducer.testing.TelemetryRecorder"
_FILE_CONFIG = "aioproducer.telemetry.recorder.file"
_SOURCE = Path(__file__).with_name("java") / "TelemetryRecorder.java"


def build_recorder(version: str = KAFKA_VERSION) -> Path:
    """The directory of the compiled recorder for Kafka ``version`` (3.7 or newer),
    compiling it the first time; HarnessError when javac is missing or fails."""
    source = _SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    classes = cache_root() / f"telemetry-recorder-{version}-{digest}"
    if (classes / ".complete").exists():
        return classes
    with cache_lock(classes.name):
        if (classes / ".complete").exists():  # built while this process waited
            return classes
        return _compile(version, classes)


def _compile(version: str, classes: Path) -> Path:
    javac = shutil.which("javac")
    if javac is None:
        raise HarnessError("javac is not on PATH: a JDK is needed to build the telemetry recorder")
    libs = kafka_libs(version)
    staging = Path(tempfile.mkdtemp(prefix="recorder-", dir=cache_root()))
    result = subprocess.run(
        [javac, "-nowarn", "-d", str(staging), "-cp", f"{libs}/*", str(_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise HarnessError(
            f"javac could not build the telemetry recorder:\n{result.stderr[-4000:]}"
        )
    (staging / ".complete").write_text(version + "\n")
    if classes.exists():
        shutil.rmtree(classes)
    staging.rename(classes)
    return classes


@dataclass(frozen=True, slots=True)
class TelemetryRecorder:
    """The compiled recorder (``classes``, for the broker's class path) writing to ``file``."""

    classes: Path
    file: Path
    version: str = KAFKA_VERSION

    @classmethod
    def build(cls, file: Path, version: str = KAFKA_VERSION) -> TelemetryRecorder:
        """Compile (once) and record into ``file``."""
        return cls(build_recorder(version), file, version)

    def broker_config(self) -> dict[str, str]:
        """The broker settings that load the recorder."""
        return {"metric.reporters": RECORDER_CLASS, _FILE_CONFIG: str(self.file)}

    def subscribe(
        self,
        bootstrap_servers: str,
        name: str = "all",
        metrics: Sequence[str] = ("org.apache.kafka.producer.",),
        interval_ms: int = 500,
        timeout: float = 60.0,
    ) -> None:
        """Create or change the client-metrics subscription ``name`` (every client)."""
        command = java_command(
            RECORDER_CLASS,
            bootstrap_servers,
            name,
            ",".join(metrics),
            str(interval_ms),
            libs=kafka_libs(self.version),
            jvm=["-Xmx128m", "-Dlog4j2.level=WARN"],
            classpath=[self.classes],
        )
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise HarnessError(f"setting the subscription failed:\n{result.stderr[-4000:]}")

    def pushes(self) -> list[dict[str, Any]]:
        """Every push received so far, oldest first."""
        if not self.file.exists():
            return []
        lines = self.file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
