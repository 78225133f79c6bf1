"""``python -m aioproducer`` as a subprocess against the real broker, read back with
confluent-kafka. The subprocess inherits the environment (AIOPRODUCER_PURE_PYTHON too)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

import aioproducer
from aioproducer._partitioner import partition_for_key
from aioproducer.testing import free_port
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration

ROOT = str(Path(aioproducer.__file__).resolve().parent.parent)
LINES = 100_000
SUMMARY = re.compile(r"^(\d+) records sent, (\d+) failed, in [\d.]+ s \([\d,]+ records/s\)$")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "aioproducer", *args]


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": ROOT + (os.pathsep + path if path else "")}


def run_cli(
    *args: str, stdin: bytes = b"", timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        _command(*args), input=stdin, capture_output=True, env=_env(), timeout=timeout, check=False
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def summary(result: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    """(sent, failed) from the summary line, the last line but errors; a run without
    errors prints nothing else."""
    if result.returncode == 0:
        assert result.stderr.count("\n") == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("aioproducer:")]
    match = SUMMARY.match(lines[-1])
    assert match, result.stderr
    return int(match[1]), int(match[2])


def one_line_error(result: subprocess.CompletedProcess[str], pattern: str) -> str:
    """The one ``aioproducer: error:`` line, matching ``pattern``; no traceback, exit 1."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("aioproducer:")]
    assert len(errors) == 1, result.stderr
    assert re.match(r"^aioproducer: error: " + pattern, errors[0]), errors[0]
    return errors[0]


def test_100000_lines_from_stdin_come_back_whole_in_order(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=1)
    lines = [f"line {i} " + "x" * (i % 50) for i in range(LINES)]
    lines[7] = ""  # an empty line is an empty value
    lines[8] = "tab\tcr\r"
    result = run_cli("produce", topic, "-b", kafka_bootstrap, stdin="\n".join(lines).encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert summary(result) == (LINES, 0)
    records = consume_all(kafka_bootstrap, topic)
    assert [r.value for r in records] == [line.encode() for line in lines]
    assert {r.key for r in records} == {None}


def test_100000_lines_from_a_file_with_keys(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=3)
    path = tmp_path / "input.txt"
    with path.open("w") as file:
        for i in range(LINES):
            file.write(f"user-{i % 997}=>event {i}: a=b\n")
    result = run_cli(
        "produce", topic, str(path), "-b", kafka_bootstrap, "--key-separator", "=>", "-z", "lz4"
    )
    assert result.returncode == 0, result.stderr
    assert summary(result) == (LINES, 0)
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == LINES
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for record in records:
        assert record.key is not None
        assert record.value is not None
        assert record.partition == partition_for_key(record.key, 3)
        assert record.value.endswith(b": a=b")
        by_key[record.key].append(int(record.value.split()[1].rstrip(b":")))
    assert sum(map(len, by_key.values())) == LINES
    for key, numbers in by_key.items():
        first = int(key.split(b"-")[1])
        assert numbers == list(range(first, LINES, 997))  # every one, in input order


def test_a_jsonl_file_with_headers_partitions_timestamps_and_json_values(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=3)
    lines = [
        {"key": "k1", "value": "text", "headers": {"trace": "abc", "empty": None}},
        {
            "key": 7,
            "value": {"n": [1, 2.5, True, None]},
            "partition": 2,
            "timestamp": 1_600_000_000_000,
        },
        {"key": "tomb", "value": None, "headers": [["dup", "1"], ["dup", "2"]], "partition": 1},
        {"value": ["é", 3], "timestamp": 1_700_000_000_000},
        {"value": 12.5, "partition": 0, "headers": {"h": {"nested": True}}},
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines[:3]) + "\n\n")
    path.write_text(path.read_text() + "\n".join(json.dumps(line) for line in lines[3:]))
    started = int(time.time() * 1000)
    result = run_cli(
        "produce", topic, "-b", kafka_bootstrap, "--format", "jsonl", "-H", "source=cli", str(path)
    )
    assert result.returncode == 0, result.stderr
    assert summary(result) == (5, 0)
    records = {(r.key, r.value): r for r in consume_all(kafka_bootstrap, topic)}
    assert len(records) == 5
    first = records[b"k1", b"text"]
    assert first.headers == (("source", b"cli"), ("trace", b"abc"), ("empty", None))
    assert first.partition == partition_for_key(b"k1", 3)
    assert first.timestamp_ms >= started - 60_000
    second = records[b"7", b'{"n":[1,2.5,true,null]}']
    assert (second.partition, second.timestamp_ms) == (2, 1_600_000_000_000)
    assert second.headers == (("source", b"cli"),)
    tomb = records[b"tomb", None]
    assert tomb.partition == 1
    assert tomb.headers == (("source", b"cli"), ("dup", b"1"), ("dup", b"2"))
    assert records[None, '["é",3]'.encode()].timestamp_ms == 1_700_000_000_000
    last = records[None, b"12.5"]
    assert last.partition == 0
    assert last.headers == (("source", b"cli"), ("h", b'{"nested":true}'))


def test_an_unreachable_broker_is_one_line_within_seconds(new_topic: TopicFactory) -> None:
    started = time.monotonic()
    result = run_cli("produce", "t", "-b", f"127.0.0.1:{free_port()}", stdin=b"x\n")
    one_line_error(result, r"BrokerUnavailableError: could not bootstrap from 127\.0\.0\.1:")
    assert result.stderr.count("\n") == 1
    assert time.monotonic() - started < 30  # max.block.ms is 10 s on the command line


def test_a_missing_file_is_one_line_and_nothing_is_sent(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = new_topic()
    good = tmp_path / "good.txt"
    good.write_text("a\nb\n")
    missing = tmp_path / "missing.txt"
    result = run_cli("produce", topic, "-b", kafka_bootstrap, str(good), str(missing))
    one_line_error(result, re.escape(f"cannot read {missing}: No such file or directory") + "$")
    assert result.stderr.count("\n") == 1
    assert consume_all(kafka_bootstrap, topic) == []


def test_malformed_json_names_its_line_and_what_came_before_is_delivered(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = new_topic()
    path = tmp_path / "bad.jsonl"
    path.write_text('{"value": "1"}\n\n{"value": "2"}\n{"value": "3",}\n{"value": "4"}\n')
    result = run_cli("produce", topic, "-b", kafka_bootstrap, "--format", "jsonl", str(path))
    # json's own words differ by Python version (3.13: "Illegal trailing comma ...")
    one_line_error(result, re.escape(f"{path}:4: malformed JSON: ") + r".+ \(column 1[45]\)$")
    assert summary(result) == (2, 0)
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"1", b"2"]


def test_a_record_the_producer_refuses_names_its_line(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=2)
    lines = b'{"value": "a"}\n{"value": "b", "partition": 5}\n{"value": "c"}\n'
    result = run_cli("produce", topic, "-b", kafka_bootstrap, "--format", "jsonl", stdin=lines)
    one_line_error(result, r"<stdin>:2: partition 5 is not a partition of topic")
    assert summary(result) == (1, 0)
    big = b"x" * 2000 + b"\n"
    result = run_cli(
        "produce", topic, "-b", kafka_bootstrap, "-X", "max.request.size=1000", stdin=b"ok\n" + big
    )
    one_line_error(result, r"<stdin>:2: the line is longer than 1000 bytes$")
    result = run_cli(
        "produce", topic, "-b", kafka_bootstrap, "-X", "max.request.size=1000", stdin=b"x" * 990
    )
    one_line_error(result, r"<stdin>:1: the record is up to \d+ bytes serialized")
    assert sorted(r.value or b"" for r in consume_all(kafka_bootstrap, topic)) == [b"a", b"ok"]


@pytest.mark.parametrize(
    ("arguments", "pattern"),
    [
        (
            ["-X", "no.such.setting=1"],
            r"ConfigurationError: unknown producer setting\(s\): no\.such\.setting$",
        ),
        (
            [
                *("--security-protocol", "SASL_SSL", "--sasl-mechanism", "OAUTHBEARER"),
                *("--sasl-username", "u", "--sasl-password", "pw"),
            ],
            r"ConfigurationError: sasl_mechanism=OAUTHBEARER authenticates with "
            r"sasl_oauth_token_provider's tokens: sasl_username and sasl_password would be "
            r"ignored$",
        ),
    ],
)
def test_setting_mistakes_are_one_line(
    kafka_bootstrap: str, arguments: list[str], pattern: str
) -> None:
    result = run_cli("produce", "t", "-b", kafka_bootstrap, *arguments, stdin=b"x\n", timeout=30)
    one_line_error(result, pattern)
    assert result.stderr.count("\n") == 1


def test_sigterm_delivers_what_was_read_and_exits_143(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    process = subprocess.Popen(
        _command("produce", topic, "-b", kafka_bootstrap),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert process.stdin is not None
    process.stdin.write(b"one\ntwo\n")
    process.stdin.flush()  # and the pipe stays open: the command waits for more
    deadline = time.monotonic() + 30
    while len(consume_all(kafka_bootstrap, topic)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    process.stdin.close()
    assert process.returncode == 143
    assert stderr.decode().splitlines()[-1] == "aioproducer: terminated"
    assert SUMMARY.match(stderr.decode().splitlines()[-2])
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"one", b"two"]


PERF_WINDOW = re.compile(
    r"^\d+ records sent, \d+\.\d records/sec \(\d+\.\d\d MB/sec\), \d+\.\d ms avg latency, "
    r"\d+\.\d ms max latency\.$"
)
PERF_TOTAL = re.compile(
    r"^(\d+) records sent, (\d+\.\d{6}) records/sec \(\d+\.\d\d MB/sec\), \d+\.\d\d ms avg "
    r"latency, \d+\.\d\d ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, "
    r"\d+ ms 99\.9th\.$"
)


def test_perf_prints_the_perf_test_lines_and_its_records_are_in_the_topic(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=2)
    result = run_cli(
        "perf", topic, "--num-records", "6000", "--record-size", "100", "--throughput", "1000",
        "--producer-props", f"bootstrap.servers={kafka_bootstrap}", "acks=all",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    *windows, total = result.stdout.splitlines()
    assert windows  # 6 s at 1000 records/s: at least one 5-second window
    assert all(PERF_WINDOW.match(line) for line in windows), windows
    match = PERF_TOTAL.match(total)
    assert match, total
    assert match[1] == "6000"
    assert 500 < float(match[2]) < 1100  # throttled to about 1000 records/s
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == 6000
    assert all(r.key is None and len(r.value or b"") == 100 for r in records)
    assert all((r.value or b"").isupper() for r in records)
