"""The ``aioproducer`` command (also ``python -m aioproducer``); see docs/cli.md.

``aioproducer produce TOPIC [FILE...]`` sends lines or JSON lines; ``aioproducer perf
TOPIC`` measures as Kafka's ``kafka-producer-perf-test`` does. It uses the public
producer API only. A mistake (a wrong address, a missing file, a malformed line, an
unknown setting) is one line on stderr, ``aioproducer: error: ...``, and exit code 1;
a usage error exits with 2. Ctrl-C and SIGTERM stop the reading and deliver what is
queued before the process exits (130 and 143).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aioproducer import __version__
from aioproducer.cli._input import InputError
from aioproducer.cli._perf import perf_parser
from aioproducer.cli._produce import produce_parser
from aioproducer.errors import ProducerError

__all__ = ["InputError", "build_parser", "error_line", "main", "parse_args"]

_PROG = "aioproducer"
_COMMANDS: dict[str, Callable[[str], argparse.ArgumentParser]] = {
    "produce": produce_parser,
    "perf": perf_parser,
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: a command, then that command's arguments."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="An asyncio Kafka producer's command line. "
        f"'{_PROG} COMMAND --help' describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "command",
        choices=_COMMANDS,
        metavar="COMMAND",
        help="; ".join(f"{name}: {make(_PROG).description}" for name, make in _COMMANDS.items()),
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command's arguments (options and files may come in any order)."""
    top = build_parser().parse_args(argv)
    return _COMMANDS[top.command](_PROG).parse_intermixed_args(top.arguments)


def error_line(error: ProducerError) -> str:
    """``error`` as the one line the command prints (the class names a library error)."""
    text = str(error) if isinstance(error, InputError) else f"{type(error).__name__}: {error}"
    return f"{_PROG}: error: " + " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code."""
    args = parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format=f"{_PROG}: %(levelname)s: %(name)s: %(message)s")
    command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = args.command
    try:
        return asyncio.run(_until_terminated(command(args)))
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except asyncio.CancelledError:
        print(f"{_PROG}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except ProducerError as exc:
        print(error_line(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:  # stdout closed early (| head): no more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


async def _until_terminated(command: Coroutine[Any, Any, int]) -> int:
    """Run ``command``; SIGTERM cancels it as Ctrl-C does, so what is queued is delivered
    before the process ends (asyncio.run then raises CancelledError)."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError):  # not on this platform or thread
        return await command
    try:
        return await command
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
