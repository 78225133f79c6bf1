"""``Producer(**options)`` is typed: mypy --strict rejects a wrong type or an unknown name."""

from __future__ import annotations

import sysconfig
import textwrap
from pathlib import Path

import pytest

import aioproducer

api = pytest.importorskip("mypy.api", reason="mypy is not installed (the dev group has it)")

GOOD = """\
from typing import Unpack

from aioproducer import Producer, ProducerConfig
from aioproducer._config import ProducerOptions, build_config
from aioproducer.logging import KafkaHandler
from aioproducer.serializers import json_serializer


def make(**options: Unpack[ProducerOptions]) -> Producer:
    return Producer(**options)


Producer(linger_ms=5, acks="all", bootstrap_servers=["127.0.0.1:9092"])
Producer({"linger.ms": "5"}, compression_type="zstd", compression_level=3)
Producer(ProducerConfig(linger_ms=5), value_serializer=json_serializer)
make(linger_ms=5, enable_idempotence=None)
build_config(None, delivery_timeout_ms=None, partitioner="round_robin")
KafkaHandler("logs", linger_ms=5)
Producer(key_serializer=str.encode, value_serializer=lambda v: repr(v).encode())
"""

# line of the call -> the error mypy reports there
BAD = {
    'Producer(linger_ms="5")': 'Argument "linger_ms" to "Producer" has incompatible type "str"; '
    'expected "int"  [arg-type]',
    "Producer(lingr_ms=5)": 'Unexpected keyword argument "lingr_ms" for "Producer"; '
    'did you mean "linger_ms"?  [call-arg]',
    "build_config(None, enable_idempotence=1)": 'Argument "enable_idempotence" to "build_config" '
    'has incompatible type "int"; expected "bool | None"  [arg-type]',
    'ProducerConfig(acks=None, client_id="a")': 'Argument "acks" to "ProducerConfig" has '
    'incompatible type "None"; expected "int | str"  [arg-type]',
    'KafkaHandler("logs", batch_sise=1)': 'Unexpected keyword argument "batch_sise" for '
    '"KafkaHandler"; did you mean "batch_size"?  [call-arg]',
}
BAD_HEADER = """\
from aioproducer import Producer, ProducerConfig
from aioproducer._config import build_config
from aioproducer.logging import KafkaHandler

"""


def _mypy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **files: str) -> list[str]:
    """mypy --strict's report lines on ``files`` (name -> source), checked against this
    tree's aioproducer."""
    for name, source in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    root = Path(aioproducer.__file__).resolve().parent.parent
    if root != Path(sysconfig.get_paths()["purelib"]).resolve():  # a checkout, not installed
        monkeypatch.setenv("MYPYPATH", str(root))
    monkeypatch.chdir(tmp_path)
    stdout, stderr, _ = api.run(
        [
            "--strict",
            "--config-file=",
            "--follow-imports=silent",
            f"--cache-dir={tmp_path / 'cache'}",
            "--no-error-summary",
            "--hide-error-context",
            *(f"{name}.py" for name in files),
        ]
    )
    assert not stderr, stderr
    return [line for line in stdout.splitlines() if ": note: " not in line]


def test_mypy_rejects_wrong_types_and_unknown_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = BAD_HEADER + "\n".join(BAD) + "\n"
    report = _mypy(tmp_path, monkeypatch, good=GOOD, bad=bad)
    first = BAD_HEADER.count("\n") + 1
    expected = [f"bad.py:{first + i}: error: {message}" for i, message in enumerate(BAD.values())]
    assert report == expected
    assert not [line for line in report if line.startswith("good.py")]
