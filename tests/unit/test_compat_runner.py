"""The compatibility matrix's pieces that need no broker: versions, modes, report, table."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from aioproducer.testing.compat import Outcome, parse_junit, table
from aioproducer.testing.versions import (
    COMPAT_VERSIONS,
    KAFKA_VERSION,
    VERSION_ENV,
    scala_binary,
    session_kafka_version,
    uses_zookeeper,
    version_tuple,
    zookeeper_override,
)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.a" name="test_ok" time="0.1"/>
<testcase classname="tests.a" name="test_ok_too" time="0.1"/>
<testcase classname="tests.a" name="test_bad"><failure message="x">boom</failure></testcase>
<testcase classname="tests.b" name="test_setup"><error message="y">fixture</error></testcase>
<testcase classname="tests.b" name="test_old"><skipped message="needs Kafka 2.1+"/></testcase>
</testsuite></testsuites>
"""


def test_parse_junit_counts_and_names_the_failures(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    outcome = Outcome("2.8.2")
    parse_junit(report, outcome)
    assert (outcome.passed, outcome.failed, outcome.skipped) == (2, 2, 1)
    assert outcome.failures == ["tests.a::test_bad", "tests.b::test_setup"]
    assert not outcome.ok


def test_table_has_a_row_per_release_and_lists_failures() -> None:
    good = Outcome("3.3.2", passed=140, skipped=2, seconds=99.6)
    bad = Outcome("2.0.1", passed=1, failed=1, exit_code=1, failures=["tests.a::test_x"])
    text = table([bad, good], datetime.date(2026, 1, 2))
    assert text.startswith("Compatibility run of 2026-01-02:")
    assert "| 2.0.1 | ZooKeeper | 1 | **1** | 0 | 0 s |" in text
    assert "| 3.3.2 | KRaft | 140 | 0 | 2 | 100 s |" in text
    assert "- tests.a::test_x" in text
    assert good.ok


def test_versions() -> None:
    assert version_tuple("3.9.2") == (3, 9, 2)
    with pytest.raises(ValueError, match="not a Kafka version"):
        version_tuple("3.x")
    assert [v for v in COMPAT_VERSIONS if uses_zookeeper(v)] == ["2.0.1", "2.3.1", "2.8.2"]
    assert tuple(sorted(COMPAT_VERSIONS, key=version_tuple)) == COMPAT_VERSIONS
    assert COMPAT_VERSIONS[-1] == KAFKA_VERSION
    assert (scala_binary("2.3.1"), scala_binary("2.4.0")) == ("2.12", "2.13")
    assert zookeeper_override("2.3.1") == "3.5.9"
    assert zookeeper_override("2.8.2") is None


def test_session_version_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VERSION_ENV, raising=False)
    assert session_kafka_version() == KAFKA_VERSION
    monkeypatch.setenv(VERSION_ENV, "3.5.2")
    assert session_kafka_version() == "3.5.2"
    monkeypatch.setenv(VERSION_ENV, "latest")
    with pytest.raises(ValueError, match="not a Kafka version"):
        session_kafka_version()
