"""The command line's parsing, without a broker: lines, JSON lines, headers, settings."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
from pathlib import Path

import pytest

from aioproducer._protocol.records import Header
from aioproducer.cli import InputError, error_line, parse_args
from aioproducer.cli._input import (
    LineSplitter,
    parse_header,
    parse_json_lines,
    parse_json_record,
    parse_lines,
)
from aioproducer.cli._options import producer_config, read_properties
from aioproducer.cli._perf import PerfOptions, PerfStats, payloads
from aioproducer.cli._produce import ProduceOptions
from aioproducer.cli._reader import ChunkReader, check_inputs
from aioproducer.cli._report import Progress, Tally, summary_line
from aioproducer.errors import ConfigurationError, DeliveryTimeoutError

BOOTSTRAP = ["-b", "127.0.0.1:9092"]


# -- lines ----------------------------------------------------------------------------------
def _split(chunks: list[bytes], limit: int = 1000) -> list[bytes]:
    splitter = LineSplitter("in", limit)
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    lines += splitter.end()
    assert splitter.lines_done == len(lines)
    return lines


DATA = b"first\nsecond line\n\n\r\nlast without newline"
EXPECTED = [b"first", b"second line", b"", b"\r", b"last without newline"]


def test_lines_split_whole_byte_by_byte_and_in_any_chunks() -> None:
    assert _split([DATA]) == EXPECTED
    assert _split([DATA[i : i + 1] for i in range(len(DATA))]) == EXPECTED
    for cut in range(len(DATA)):
        assert _split([DATA[:cut], DATA[cut:]]) == EXPECTED


def test_a_final_newline_makes_no_empty_record() -> None:
    assert _split([b"a\nb\n"]) == [b"a", b"b"]
    assert _split([b""]) == []
    assert _split([b"\n"]) == [b""]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"ok\n12345678901\nnext\n"],
        [b"ok\n1234", b"5678", b"901\nnext"],
        [b"ok\n12345678901"],
        [b"ok\n", b"12345678901"],
    ],
)
def test_a_line_over_the_limit_ends_the_splitting_and_is_named(chunks: list[bytes]) -> None:
    splitter = LineSplitter("in", 10)
    lines = [line for chunk in chunks for line in splitter.feed(chunk)] + splitter.end()
    assert lines == [b"ok"]  # the lines before it, and no more
    assert str(splitter.error) == "in:2: the line is longer than 10 bytes"
    assert _split([b"1234567890\n1234567890"], limit=10) == [b"1234567890"] * 2


def test_lines_with_and_without_a_key_separator() -> None:
    headers: list[Header] = [("h", b"v")]
    assert parse_lines([b"a:b", b""], None, [], "in", 1) == ([(None, b"a:b"), (None, b"")], None)
    assert parse_lines([b"v"], None, headers, "in", 1) == ([(None, b"v", headers)], None)
    records, error = parse_lines([b"k::v::w", b"::", b"\xff::\x00\r"], b"::", [], "in", 1)
    assert error is None
    assert records == [(b"k", b"v::w"), (b"", b""), (b"\xff", b"\x00\r")]
    assert parse_lines([b"k=>v"], b"=>", headers, "in", 1) == ([(b"k", b"v", headers)], None)


def test_a_line_without_the_separator_ends_the_parsing_and_is_named() -> None:
    records, error = parse_lines([b"a:1", b"b:2", b"no separator", b"c:3"], b":", [], "f.txt", 41)
    assert records == [(b"a", b"1"), (b"b", b"2")]
    assert error is not None
    assert str(error) == "f.txt:43: no key separator ':' in the line"


# -- JSON lines -----------------------------------------------------------------------------
def test_json_strings_nulls_and_other_values() -> None:
    line = json.dumps(
        {
            "key": 42,
            "value": {"b": [1, 2.5, True, None], "é": "ü"},
            "headers": {"s": "x", "n": None, "o": {"k": 1}},
            "partition": 3,
            "timestamp": 1_700_000_000_000,
        }
    ).encode()
    record = parse_json_record(line, "in", 7)
    assert record.line == 7
    assert record.key == b"42"
    assert record.value == '{"b":[1,2.5,true,null],"é":"ü"}'.encode()
    assert record.headers == [("s", b"x"), ("n", None), ("o", b'{"k":1}')]
    assert (record.partition, record.timestamp_ms) == (3, 1_700_000_000_000)
    assert record.plain() is None  # it names a partition: send() takes it
    empty = parse_json_record(b"{}", "in", 1)
    assert (empty.key, empty.value, empty.headers) == (None, None, [])
    assert empty.plain() == (None, None)
    text = parse_json_record(b'{"key": "k", "value": "\\u00e9\\n", "timestamp": null}', "in", 1)
    assert text.plain() == (b"k", "é\n".encode())
    assert parse_json_record(b'\xef\xbb\xbf{"value": "bom"}', "in", 1).value == b"bom"


def test_json_headers_as_pairs_keep_duplicates_after_the_command_line_ones() -> None:
    line = b'{"value": "v", "headers": [["a", "1"], ["a", null], ["b", 2]]}'
    record = parse_json_record(line, "in", 1, [("cli", b"x")])
    assert record.headers == [("cli", b"x"), ("a", b"1"), ("a", None), ("b", b"2")]
    assert record.plain() == (None, b"v", record.headers)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # json's own words differ by Python version (3.13: "Illegal trailing comma ...")
        (b'{"value": "a",}', r"^in:5: malformed JSON: .+ \(column 1[45]\)$"),
        (b'{"value": ', r"^in:5: malformed JSON: Expecting value \(column 11\)$"),
        (b'{"value": NaN}', r"^in:5: malformed JSON: NaN is not JSON$"),
        (b"\xff\xfe{}", r"^in:5: malformed JSON"),
        (b"[" * 100_000 + b"]" * 100_000, r"^in:5: malformed JSON"),
        (b'"just a string"', r"^in:5: expected a JSON object, not str$"),
        (b'{"value": "v", "header": {}}', r"^in:5: unknown field\(s\) 'header'; a record has"),
        (b'{"headers": "a=b"}', r"^in:5: headers must be an object or a list"),
        (b'{"headers": [["a"]]}', r"^in:5: a header must be a \[name, value\] pair"),
        (b'{"headers": [[1, "v"]]}', r"^in:5: a header must be a \[name, value\] pair"),
        (b'{"partition": -1}', r"^in:5: partition must be an integer from 0 to 2147483647"),
        (b'{"partition": true}', r"^in:5: partition must be an integer"),
        (b'{"partition": 1.0}', r"^in:5: partition must be an integer"),
        (b'{"partition": 2147483648}', r"^in:5: partition must be an integer"),
        (b'{"timestamp": 9223372036854775808}', r"^in:5: timestamp must be an integer"),
        (b'{"timestamp": "2024-01-01"}', r"^in:5: timestamp must be an integer"),
        (b'{"value": "\\ud800"}', r"^in:5: the value holds '\\ud800', which is not valid UTF-8"),
        (b'{"key": ["\\udfff"]}', r"^in:5: the key holds '\\udfff', which is not valid UTF-8"),
        (b'{"headers": {"\\ud800": "v"}}', r"^in:5: the header name holds '\\ud800'"),
    ],
)
def test_json_mistakes_name_the_line(line: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_json_record(line, "in", 5)


def test_json_lines_skip_blank_lines_and_stop_at_a_bad_one() -> None:
    lines = [b'{"value": "a"}', b"", b"  \t", b'{"value": "b"}', b"{bad", b'{"value": "c"}']
    records, error = parse_json_lines(lines, "in", 10)
    assert [(r.line, r.value) for r in records] == [(10, b"a"), (13, b"b")]
    assert error is not None
    assert str(error).startswith("in:14: malformed JSON")


def test_command_line_headers() -> None:
    assert parse_header("trace=a=b") == ("trace", b"a=b")
    assert parse_header("empty=") == ("empty", b"")
    assert parse_header("=v") == ("", b"v")
    assert parse_header("raw=\udcff") == ("raw", b"\xff")  # argv's undecodable byte
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_header("novalue")
    with pytest.raises(InputError, match="the name is not valid UTF-8"):
        parse_header("\udcff=v")


# -- options and settings -------------------------------------------------------------------
def test_options_in_any_order_and_files_after_them() -> None:
    args = parse_args(["produce", "t", "-b", "h:1", "a.txt", "-K", ":", "b.txt", "-H", "x=1"])
    options = ProduceOptions.from_args(args)
    assert (options.topic, options.files, options.key_separator) == ("t", ["a.txt", "b.txt"], b":")
    assert options.headers == [("x", b"1")]
    assert ProduceOptions.from_args(parse_args(["produce", "t"])).files == ["-"]


def test_produce_option_mistakes() -> None:
    with pytest.raises(InputError, match="--key-separator goes with --format lines"):
        ProduceOptions.from_args(parse_args(["produce", "t", "--format", "jsonl", "-K", ":"]))
    with pytest.raises(InputError, match="must not be empty"):
        ProduceOptions.from_args(parse_args(["produce", "t", "-K", ""]))
    with pytest.raises(SystemExit):
        parse_args(["produce", "t", "--format", "csv"])
    with pytest.raises(SystemExit):
        parse_args(["produce", "t", "-X", "no-equals-sign"])
    with pytest.raises(SystemExit):
        parse_args(["nocommand"])


def test_settings_later_win_whatever_the_spelling(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text(
        "# a comment\n! another\n\nbootstrap.servers = 127.0.0.1:1\nlinger.ms: 7\n"
        "batch.size=100\nclient.id=from-file\n"
    )
    args = parse_args(
        [
            *("produce", "t", "-F", str(properties), "-X", "linger_ms=8", "-X", "batch-size=200"),
            *("--linger-ms", "9", "-X", "client.id=a=b", "-z", "lz4", "--acks", "1"),
        ]
    )
    config = producer_config(args)
    assert config.bootstrap_servers == (("127.0.0.1", 1),)
    assert (config.linger_ms, config.batch_size, config.client_id) == (9, 200, "a=b")
    assert (config.compression_type.name, config.acks) == ("LZ4", 1)
    assert config.max_block_ms == 10_000  # the command line's default
    raised = producer_config(parse_args(["produce", "t", *BOOTSTRAP, "-X", "max.block.ms=60000"]))
    assert raised.max_block_ms == 60_000


def test_perf_takes_java_producer_props_and_its_client_id() -> None:
    args = parse_args(
        [
            *("perf", "--topic", "t", "--num-records", "10", "--record-size", "5"),
            *("--throughput", "-1", "--producer-props", "bootstrap.servers=h:2", "acks=1"),
        ]
    )
    assert PerfOptions.from_args(args) == PerfOptions("t", 10, 5, -1.0)
    config = producer_config(args, {"client.id": "perf-producer-client"})
    assert (config.bootstrap_servers, config.acks) == ((("h", 2),), 1)
    assert config.client_id == "perf-producer-client"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--num-records", "0"], "--num-records must be greater than zero"),
        (["--record-size", "-1"], "--record-size must be greater than zero"),
        (["--throughput", "0"], "--throughput must be records per second"),
        (["--throughput", "nan"], "--throughput must be records per second"),
        (["--topic", "u"], "name the topic once"),
    ],
)
def test_perf_option_mistakes(arguments: list[str], message: str) -> None:
    base = {"--num-records": "10", "--record-size": "10", "--throughput": "-1"}
    flags = dict(zip(arguments[::2], arguments[1::2], strict=True))
    argv = ["perf", "t", *[item for pair in {**base, **flags}.items() for item in pair]]
    with pytest.raises(InputError, match=re.escape(message)):
        PerfOptions.from_args(parse_args(argv))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (["-X", "no.such.setting=1"], ConfigurationError, "unknown producer setting.*no.such"),
        (["-X", "linger.ms=soon"], ConfigurationError, "linger_ms must be an int"),
        (["--acks", "2"], ConfigurationError, "acks must be"),
        (["-z", "brotli"], ConfigurationError, "unknown compression type"),
        (["--sasl-username", "u"], ConfigurationError, "sasl_username given with"),
        (
            [
                *("--security-protocol", "SASL_SSL", "--sasl-mechanism", "OAUTHBEARER"),
                *("--sasl-username", "u", "--sasl-password", "pw-secret"),
            ],
            ConfigurationError,
            "OAUTHBEARER authenticates with sasl_oauth_token_provider",
        ),
        (["-X", "security.protocol=SASL_PLAINTEXT"], ConfigurationError, "needs sasl_mechanism"),
        (["-F", "/no/such/file"], InputError, "cannot read /no/such/file"),
    ],
)
def test_setting_mistakes_reach_the_user_as_one_line(
    arguments: list[str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        producer_config(parse_args(["produce", "t", *BOOTSTRAP, *arguments]))
    assert isinstance(caught.value, ConfigurationError | InputError)
    line = error_line(caught.value)
    assert line.startswith("aioproducer: error: ")
    assert "\n" not in line
    assert "pw-secret" not in line


def test_no_broker_is_an_error() -> None:
    with pytest.raises(InputError, match="no broker given"):
        producer_config(parse_args(["produce", "t"]))
    assert producer_config(parse_args(["produce", "t", "-X", "bootstrap_servers=h"]))


def test_properties_files(tmp_path: Path) -> None:
    path = tmp_path / "p.properties"
    path.write_text("a=1\nb : 2\nc=x:y\nurl: http://h:1\n")
    assert read_properties(str(path)) == [
        ("a", "1"),
        ("b", "2"),
        ("c", "x:y"),
        ("url", "http://h:1"),
    ]
    path.write_text("a=1\\\n  continued\n")
    with pytest.raises(InputError, match=r"p\.properties:1: line continuations"):
        read_properties(str(path))
    path.write_text("just a word\n")
    with pytest.raises(InputError, match=r"p\.properties:1: expected name=value"):
        read_properties(str(path))
    path.write_bytes(b"a=\xff\n")
    with pytest.raises(InputError, match="cannot read"):
        read_properties(str(path))


def test_error_lines_are_one_line() -> None:
    assert error_line(InputError("in:3: bad")) == "aioproducer: error: in:3: bad"
    assert error_line(ConfigurationError("two\nlines")) == (
        "aioproducer: error: ConfigurationError: two lines"
    )


# -- inputs ---------------------------------------------------------------------------------
def test_inputs_are_checked_before_anything_is_sent(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("x\n")
    check_inputs(["-", str(good)])
    with pytest.raises(InputError, match=r"cannot read .*missing.txt: No such file"):
        check_inputs([str(good), str(tmp_path / "missing.txt")])
    with pytest.raises(InputError, match="it is a directory"):
        check_inputs([str(tmp_path)])
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    if not os.access(secret, os.R_OK):  # root reads it all the same
        with pytest.raises(InputError, match=r"secret\.txt: permission denied"):
            check_inputs([str(secret)])


async def test_the_reader_reads_ahead_a_few_chunks_and_stops() -> None:
    read_end, write_end = os.pipe()
    reader = ChunkReader(f"/dev/fd/{read_end}", ahead=2, chunk_size=4)
    os.write(write_end, b"0123456789")
    chunks = [await reader.read() for _ in range(3)]
    assert b"".join(chunks) == b"0123456789"
    os.close(write_end)
    assert await reader.read() == b""
    await asyncio.sleep(0.05)
    assert not reader._thread.is_alive()
    os.close(read_end)


async def test_a_reader_closed_while_its_thread_waits_leaves_the_loop_free() -> None:
    read_end, write_end = os.pipe()
    reader = ChunkReader(f"/dev/fd/{read_end}")
    await asyncio.sleep(0.01)  # the thread waits in os.read
    reader.close()
    os.write(write_end, b"late")  # the thread reads it, hands it over, and ends
    await asyncio.sleep(0.05)
    assert not reader._thread.is_alive()
    os.close(write_end)
    os.close(read_end)


async def test_a_named_pipe_is_opened_by_the_thread(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    check_inputs([str(fifo)])  # opens nothing: a writer would see its reader leave
    reader = ChunkReader(str(fifo))  # the thread waits in open() for a writer
    await asyncio.sleep(0.01)
    writer = os.open(fifo, os.O_WRONLY)
    os.write(writer, b"a\n")
    os.close(writer)
    assert await reader.read() == b"a\n"
    assert await reader.read() == b""


async def test_read_errors_name_the_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*gone: No such file"):
        await ChunkReader(str(tmp_path / "gone")).read()
    with pytest.raises(InputError, match=r"cannot read .*: Is a directory"):
        await ChunkReader(str(tmp_path)).read()


# -- reports --------------------------------------------------------------------------------
def test_summary_and_tally() -> None:
    assert summary_line(100_000, 0, 2.0) == (
        "100000 records sent, 0 failed, in 2.00 s (50,000 records/s)"
    )
    assert summary_line(0, 0, 0.0).endswith("(0 records/s)")
    loop = asyncio.new_event_loop()
    try:
        tally = Tally()
        ok, bad, bad2 = loop.create_future(), loop.create_future(), loop.create_future()
        ok.set_result(None)
        bad.set_exception(DeliveryTimeoutError("expired after 120000 ms"))
        bad2.set_exception(DeliveryTimeoutError("another"))
        tally.settled(ok)
        tally.settled_run(10, bad)
        tally.settled(bad2)
        assert (tally.sent, tally.failed) == (1, 11)
        stream = io.StringIO()
        assert tally.report(stream) == 1
        assert stream.getvalue() == (
            "aioproducer: error: 11 records failed with DeliveryTimeoutError: "
            "expired after 120000 ms\n"
        )
        assert Tally().report(stream) == 0
    finally:
        loop.close()


def test_progress_shows_only_on_a_terminal() -> None:
    progress = Progress(io.StringIO(), lambda: 1500, lambda: 0.5)
    assert not progress.enabled
    assert progress.line(3.0) == "1,500 records, 500 records/s, 50% of the input read"
    assert Progress(io.StringIO(), lambda: 0, lambda: None).line(0.0) == "0 records, 0 records/s"


# -- perf -----------------------------------------------------------------------------------
JAVA_WINDOW = re.compile(
    r"^\d+ records sent, \d+\.\d records/sec \(\d+\.\d\d MB/sec\), \d+\.\d ms avg latency, "
    r"\d+\.\d ms max latency\.$"
)
JAVA_TOTAL = re.compile(
    r"^\d+ records sent, \d+\.\d{6} records/sec \(\d+\.\d\d MB/sec\), \d+\.\d\d ms avg "
    r"latency, \d+\.\d\d ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, "
    r"\d+ ms 99\.9th\.$"
)


def test_perf_lines_are_java_s() -> None:
    printed: list[str] = []
    stats = PerfStats(2000, 0, printed.append)
    for i in range(1000):
        stats.record(i % 100, 100, 10 + i)  # ms 10..1009: no window yet
    assert printed == []
    stats.record(1000, 100, 5000)  # 5 s after the start: the window is printed
    assert printed == [
        "1001 records sent, 200.2 records/sec (0.02 MB/sec), 50.4 ms avg latency, "
        "1000.0 ms max latency."
    ]
    assert JAVA_WINDOW.match(printed[0])
    total = stats.total_line(10_000)
    assert total == (
        "1001 records sent, 100.100000 records/sec (0.01 MB/sec), 50.45 ms avg latency, "
        "1000.00 ms max latency, 50 ms 50th, 95 ms 95th, 99 ms 99th, 99 ms 99.9th."
    )
    assert JAVA_TOTAL.match(total)
    assert JAVA_TOTAL.match(PerfStats(1, 0, printed.append).total_line(0))  # nothing sent


def test_perf_samples_at_most_500000_latencies_as_java_does() -> None:
    stats = PerfStats(1_500_000, 0, print)
    for i in range(1_500_000 // 100):
        stats.record(i, 1, 0)
    assert len(stats._samples) == 5000  # every third


def test_perf_payloads_are_distinct_capital_letters() -> None:
    values = payloads(100, 10_000)
    assert len(values) == 4096
    assert len(set(values)) == len(values)
    assert all(len(v) == 100 and v.isalpha() and v.isupper() for v in values)
    assert values == payloads(100, 10_000)
    assert len(payloads(10, 3)) == 3
    big = payloads(20 * 1024 * 1024, 5)
    assert [len(v) for v in big] == [20 * 1024 * 1024]


def test_namespace_of_every_command_names_its_coroutine() -> None:
    for argv in (["produce", "t"], ["perf", "t", "--num-records", "1", "--record-size", "1"]):
        args = parse_args([*argv, "--throughput", "1"] if argv[0] == "perf" else argv)
        assert isinstance(args, argparse.Namespace)
        assert asyncio.iscoroutinefunction(args.command)
