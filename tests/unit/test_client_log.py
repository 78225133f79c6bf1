"""The producer's log lines: the client id on each, the start line's redaction, and the
rate-limited retry warning."""

from __future__ import annotations

import logging

import pytest

from aioproducer._accumulator import RecordAccumulator
from aioproducer._clientlog import ClientLog, redacted_settings
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig
from aioproducer._sender import Sender
from aioproducer.errors import ConnectionLostError, broker_error


def test_lines_carry_the_client_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aioproducer.test")
    ClientLog("aioproducer.test", "app-1").info("hello %d", 5)
    (record,) = caplog.records
    assert record.getMessage() == "[app-1] hello 5"
    assert record.client_id == "app-1"  # type: ignore[attr-defined]


def test_start_line_shows_changed_settings_and_hides_secrets() -> None:
    defaults = ProducerConfig().options()
    config = ProducerConfig(
        bootstrap_servers="b:9093",
        linger_ms=9,
        compression_type="zstd",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="user",
        sasl_password="hunter2",
    )
    text = redacted_settings(config.options(), defaults)
    assert "hunter2" not in text
    assert "sasl_password=***" in text
    assert "linger_ms=9" in text
    assert "compression_type=zstd" in text
    assert "batch_size" not in text  # unchanged
    assert redacted_settings(defaults, defaults) == "all defaults"


async def test_retry_warnings_are_one_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    config = ProducerConfig(client_id="retrying")
    sender = Sender(config, Cluster(config), RecordAccumulator(config), None)
    caplog.set_level(logging.WARNING, logger="aioproducer.sender")
    for _ in range(50):
        sender._warn_retry(broker_error(6, "leader moved"), 6)
    sender._warn_retry(ConnectionLostError("gone"), None)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("[retrying] retrying after error code 6")
    assert "ConnectionLostError" in lines[1]
    when, since = sender._retry_warned[6]
    sender._retry_warned[6] = (when - 11, since)  # the next burst, 11 s later
    sender._warn_retry(broker_error(6, "leader moved"), 6)
    assert "49 more retries" in caplog.records[-1].getMessage()
