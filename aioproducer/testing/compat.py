"""The compatibility matrix: the same tests against one Apache Kafka release after another.

``python -m aioproducer.testing.compat [--versions 2.8.2,4.4.0] [--report FILE] -- TESTS``
runs pytest on ``TESTS`` once per release (default: every one in
:data:`~aioproducer.testing.versions.COMPAT_VERSIONS`), each time with a fresh local broker
of that release (``AIOPRODUCER_KAFKA_VERSION``; ``KAFKA_BOOTSTRAP_SERVERS`` is dropped), one
release at a time, and prints a table of passed, failed and skipped tests per release. It
exits 1 when any release had a failure or an error.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aioproducer.testing.versions import COMPAT_VERSIONS, VERSION_ENV, uses_zookeeper

__all__ = ["Outcome", "main", "parse_junit", "run_version", "table"]


@dataclass
class Outcome:
    """What one release's pytest run gave."""

    version: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    exit_code: int = 0
    failures: list[str] = field(default_factory=list)
    """The ids of the tests that failed or errored."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failed == 0


def parse_junit(path: Path, outcome: Outcome) -> None:
    """Add the counts of a pytest ``--junitxml`` report to ``outcome``."""
    root = ET.parse(path).getroot()  # noqa: S314 - pytest wrote it, locally
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome.failed += 1
            outcome.failures.append(name)
        elif case.find("skipped") is not None:
            outcome.skipped += 1
        else:
            outcome.passed += 1


def run_version(version: str, pytest_args: Sequence[str], workdir: Path) -> Outcome:
    """Run pytest with ``pytest_args`` against a local broker of Kafka ``version``."""
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env[VERSION_ENV] = version
    env["AIOPRODUCER_NO_DOCKER"] = "1"
    report = workdir / f"junit-{version}.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
        *pytest_args,
    ]
    print(f"== Kafka {version}: {' '.join(command[1:])}", flush=True)
    outcome = Outcome(version)
    started = time.monotonic()
    outcome.exit_code = subprocess.run(command, env=env, check=False).returncode
    outcome.seconds = time.monotonic() - started
    if report.exists():
        parse_junit(report, outcome)
    elif outcome.exit_code != 0:
        outcome.failures.append(f"pytest exited {outcome.exit_code} without a report")
    return outcome


def table(outcomes: Sequence[Outcome], day: datetime.date) -> str:
    """A Markdown table of the outcomes, headed by the date of the run."""
    lines = [
        f"Compatibility run of {day.isoformat()}:",
        "",
        "| Kafka | mode | passed | failed | skipped | time |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for o in outcomes:
        mode = "ZooKeeper" if uses_zookeeper(o.version) else "KRaft"
        failed = f"**{o.failed}**" if o.failed or o.exit_code else "0"
        lines.append(
            f"| {o.version} | {mode} | {o.passed} | {failed} | {o.skipped} | {o.seconds:.0f} s |"
        )
    for o in outcomes:
        if not o.ok:
            lines.append("")
            lines.append(f"Kafka {o.version} (pytest exit {o.exit_code}):")
            lines.extend(f"- {name}" for name in o.failures)
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aioproducer.testing.compat", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--versions",
        default=",".join(COMPAT_VERSIONS),
        help="comma-separated Kafka releases (default: %(default)s)",
    )
    parser.add_argument("--report", type=Path, help="also write the table to this file")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="aioproducer-compat-") as workdir:
        for version in versions:
            outcomes.append(run_version(version, args.pytest_args, Path(workdir)))
    summary = table(outcomes, datetime.datetime.now(datetime.UTC).date())
    print("\n" + summary, end="")
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(summary)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
