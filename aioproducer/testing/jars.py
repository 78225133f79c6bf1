"""Resolve Apache Kafka's own jars from Maven Central into a cache outside the repository.

The first call runs Maven on the small POM shipped beside this module; later calls find the
finished directory (marked by a ``.complete`` file) and touch neither Maven nor the network.
Processes that resolve at once (two pytest sessions on a fresh machine) take turns
(:func:`cache_lock`), so one resolves and the others find its directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from aioproducer.testing.versions import KAFKA_VERSION, scala_binary, zookeeper_override

__all__ = ["HarnessError", "cache_lock", "cache_root", "java_command", "kafka_libs"]

_POM = Path(__file__).with_name("pom.xml")


class HarnessError(RuntimeError):
    """The test harness could not provide a Kafka cluster (Java, Maven or the broker failed)."""


def cache_root() -> Path:
    """Return the cache directory: ``$AIOPRODUCER_CACHE`` or ``~/.cache/aioproducer``."""
    env = os.environ.get("AIOPRODUCER_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "aioproducer"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<cache>/<name>.lock`` (waiting for another process's)."""
    import fcntl  # noqa: PLC0415 - POSIX-only; the plugin loads without it

    with (cache_root() / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Return the directory holding every jar Kafka ``version`` needs, resolving it once."""
    home = cache_root() / f"kafka-{version}"
    libs = home / "libs"
    marker = home / ".complete"
    if marker.exists() and libs.is_dir():
        return libs
    with cache_lock(f"kafka-{version}"):
        if marker.exists() and libs.is_dir():  # resolved while this process waited
            return libs
        return _resolve(version, home, libs, marker)


def _resolve(version: str, home: Path, libs: Path, marker: Path) -> Path:
    if shutil.which("mvn") is None:
        raise HarnessError("Maven (mvn) is not on PATH; it is needed once to fetch Kafka's jars")
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=home))
    scala = scala_binary(version)
    zookeeper = zookeeper_override(version)
    command = [
        "mvn",
        "-B",
        "-q",
        "-f",
        str(_POM),
        f"-Dkafka.version={version}",
        f"-Dscala.binary={scala}",
        *([f"-Dzookeeper.version={zookeeper}"] if zookeeper else []),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not any(staging.glob(f"kafka_{scala}-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        tail = (result.stdout + result.stderr)[-4000:]
        raise HarnessError(
            f"Maven could not resolve Kafka {version}: exit {result.returncode}\n{tail}"
        )
    if libs.exists():
        shutil.rmtree(libs)
    staging.rename(libs)
    marker.write_text(version + "\n")
    return libs


def java_command(
    main: str,
    *args: str,
    libs: Path | None = None,
    jvm: Sequence[str] = (),
    classpath: Sequence[Path] = (),
) -> list[str]:
    """``java <jvm options> -cp <Kafka's jars>/*:<classpath> main args...`` (``libs``
    defaults to :func:`kafka_libs`); HarnessError when Java is not on PATH."""
    java = shutil.which("java")
    if java is None:
        raise HarnessError("java is not on PATH; Kafka needs Java 17 or newer")
    jars = f"{libs if libs is not None else kafka_libs()}/*"
    path = os.pathsep.join([jars, *map(str, classpath)])
    return [java, *jvm, "-cp", path, main, *args]
