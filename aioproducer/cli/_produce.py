"""``aioproducer produce TOPIC [FILE...]``: stdin or files to a topic, a record per line.

Records go in runs to ``Producer.send_many`` (three times cheaper per record than ``send``
for 100,000 lines, see docs/cli.md); those naming a partition or a timestamp go one by one
to ``send``. Memory stays bounded: the input is read a few chunks ahead, and what is
queued is bounded by ``buffer.memory``. A bad line stops the reading: the records before it
are delivered, and the error names the line. A record the broker refuses is counted, and
the reading goes on; the exit code is 1 if any record failed.
"""

from __future__ import annotations

import argparse
import functools
import os
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TextIO

from aioproducer._producer import Producer
from aioproducer._protocol.records import Header
from aioproducer.cli._input import (
    InputError,
    JsonRecord,
    LineSplitter,
    PlainRecord,
    parse_header,
    parse_json_lines,
    parse_lines,
)
from aioproducer.cli._options import add_producer_options, largest_record, producer_config
from aioproducer.cli._reader import STDIN, ChunkReader, check_inputs
from aioproducer.cli._report import Progress, Tally, summary_line
from aioproducer.errors import InvalidPartitionError, RecordTooLargeError, SerializationError

__all__ = ["ProduceOptions", "produce", "produce_parser"]

#: What send() or send_many() raise for one bad record (they queue nothing then).
_RECORD_ERRORS: Final = (SerializationError, RecordTooLargeError, InvalidPartitionError)
_JSON_GROWTH: Final = 6  # a JSON line is at most this times its record (\u00XX escapes)


@dataclass(frozen=True, slots=True)
class ProduceOptions:
    """What ``produce`` was asked to do, checked."""

    topic: str
    files: list[str]
    jsonl: bool
    key_separator: bytes | None
    headers: list[Header]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ProduceOptions:
        separator: str | None = args.key_separator
        if separator is not None and args.format == "jsonl":
            raise InputError("--key-separator goes with --format lines: jsonl lines hold keys")
        if separator == "":
            raise InputError("--key-separator must not be empty")
        return cls(
            args.topic,
            list(args.files) or [STDIN],
            args.format == "jsonl",
            None if separator is None else separator.encode("utf-8", "surrogateescape"),
            [parse_header(text) for text in args.headers],
        )


class _Writer:
    """Hands parsed records to the producer: runs to send_many, the rest to send."""

    def __init__(self, producer: Producer, topic: str, tally: Tally) -> None:
        self._producer = producer
        self._topic = topic
        self._tally = tally
        self._settled = tally.settled

    async def send_run(self, records: list[PlainRecord], lines: Sequence[int], source: str) -> None:
        if not records:
            return
        try:
            group = await self._producer.send_many(self._topic, records)
        except _RECORD_ERRORS:  # nothing was queued: send them one by one, up to the bad one
            for record, line in zip(records, lines, strict=True):
                headers = record[2] if len(record) == 3 else None
                await self.send_one(record[0], record[1], headers, None, None, source, line)
            return
        group.add_done_callback(functools.partial(self._tally.settled_run, len(records)))

    async def send_one(  # noqa: PLR0917
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[Header] | None,
        partition: int | None,
        timestamp_ms: int | None,
        source: str,
        line: int,
    ) -> None:
        try:
            future = await self._producer.send(
                self._topic,
                value,
                key,
                partition=partition,
                timestamp_ms=timestamp_ms,
                headers=headers,
            )
        except _RECORD_ERRORS as exc:
            raise InputError(f"{source}:{line}: {exc}") from exc
        future.add_done_callback(self._settled)

    async def send_json(self, records: list[JsonRecord], source: str) -> None:
        """Records without a partition or timestamp go in runs, the others one by one."""
        run: list[PlainRecord] = []
        lines: list[int] = []
        for record in records:
            plain = record.plain()
            if plain is not None:
                run.append(plain)
                lines.append(record.line)
                continue
            await self.send_run(run, lines, source)
            run, lines = [], []
            await self.send_one(
                record.key,
                record.value,
                record.headers,
                record.partition,
                record.timestamp_ms,
                source,
                record.line,
            )
        await self.send_run(run, lines, source)


class _Input:
    """Reads every input in turn, line by line, counting the bytes read."""

    def __init__(self, options: ProduceOptions, writer: _Writer, line_limit: int) -> None:
        self._options = options
        self._writer = writer
        self._line_limit = line_limit
        self.bytes_read = 0
        sizes = [_file_size(path) for path in options.files]
        self.total_bytes = None if None in sizes else sum(s or 0 for s in sizes)

    def fraction(self) -> float | None:
        return self.bytes_read / self.total_bytes if self.total_bytes else None

    async def read_all(self) -> None:
        for path in self._options.files:
            reader = ChunkReader(path)
            try:
                await self._read(reader, reader.name)
            finally:
                reader.close()

    async def _read(self, reader: ChunkReader, name: str) -> None:
        splitter = LineSplitter(name, self._line_limit)
        while True:
            chunk = await reader.read()
            self.bytes_read += len(chunk)
            lines = splitter.feed(chunk) if chunk else splitter.end()
            if lines:
                await self._send(lines, name, splitter.lines_done - len(lines) + 1)
            if splitter.error is not None:
                raise splitter.error
            if not chunk:
                return

    async def _send(self, lines: list[bytes], name: str, first: int) -> None:
        options, writer = self._options, self._writer
        error: InputError | None
        if options.jsonl:
            records, error = parse_json_lines(lines, name, first, options.headers)
            await writer.send_json(records, name)
        else:
            plain, error = parse_lines(lines, options.key_separator, options.headers, name, first)
            await writer.send_run(plain, range(first, first + len(plain)), name)
        if error is not None:
            raise error


def _file_size(path: str) -> int | None:
    """The size of a regular file; None for stdin, pipes and the like."""
    if path == STDIN:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


async def produce(args: argparse.Namespace, stderr: TextIO | None = None) -> int:
    """Run ``produce``; the exit code (1 if any record failed). A fatal error is raised
    after the records queued before it are delivered and the summary is printed."""
    err = stderr if stderr is not None else sys.stderr
    options = ProduceOptions.from_args(args)
    check_inputs(options.files)
    config = producer_config(args)
    limit = largest_record(config)
    producer = Producer(config)
    await producer.start()
    started = time.monotonic()
    tally = Tally()
    growth = _JSON_GROWTH if options.jsonl else 1
    source = _Input(options, _Writer(producer, options.topic, tally), limit * growth)
    progress = Progress(err, lambda: tally.sent + tally.failed, source.fraction)
    if STDIN in options.files and os.isatty(0):
        progress.enabled = False  # someone types the records: leave their line alone
    try:
        with progress.showing():
            await source.read_all()
            await producer.flush()
    finally:
        await producer.close()
        print(summary_line(tally.sent, tally.failed, time.monotonic() - started), file=err)
        code = tally.report(err)
    return code


def produce_parser(prog: str) -> argparse.ArgumentParser:
    """The arguments of ``produce``."""
    parser = argparse.ArgumentParser(
        prog=f"{prog} produce",
        description="send each line of stdin, or of FILEs (- is stdin), as a record",
    )
    parser.add_argument("topic", metavar="TOPIC")
    parser.add_argument("files", metavar="FILE", nargs="*", help="default: stdin")
    parser.add_argument(
        "--format",
        choices=("lines", "jsonl"),
        default="lines",
        help='lines (default): a value per line; jsonl: {"key", "value", "headers", '
        '"partition", "timestamp"} per line',
    )
    parser.add_argument(
        "-K", "--key-separator", metavar="SEP", help="lines: KEY<SEP>VALUE, split at the first"
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a header on every record; repeatable",
    )
    add_producer_options(parser)
    parser.set_defaults(command=produce)
    return parser
