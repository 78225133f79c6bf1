"""The table of settings is the one declaration: the types, ProducerConfig and the Java names
follow it (the generated module and page are checked by ``make lint`` as well)."""

from __future__ import annotations

import ast
import dataclasses
from typing import ForwardRef

import pytest

from aioproducer._config import ProducerConfig, _normalise
from aioproducer._options import ConfigFields, ProducerOptions
from aioproducer._settings import SETTINGS, Setting
from aioproducer.errors import ConfigurationError

NAMES = [setting.name for setting in SETTINGS]


def _expression(annotation: object) -> str:
    """An annotation's source, spelt one way (quotes, spaces)."""
    text = annotation.__forward_arg__ if isinstance(annotation, ForwardRef) else annotation
    assert isinstance(text, str)
    return ast.unparse(ast.parse(text, mode="eval"))


def test_names_are_unique_snake_case() -> None:
    assert len(set(NAMES)) == len(NAMES)
    assert all(name.isidentifier() and name.islower() for name in NAMES)
    spellings = [alias for setting in SETTINGS for alias in setting.aliases]
    assert not set(spellings) & set(NAMES)


def test_typed_options_follow_the_table() -> None:
    annotations = {name: _expression(t) for name, t in ProducerOptions.__annotations__.items()}
    assert annotations == {s.name: _expression(s.type) for s in SETTINGS}
    assert ProducerOptions.__required_keys__ == frozenset()


def test_config_fields_follow_the_table() -> None:
    fields = {f.name: f for f in dataclasses.fields(ConfigFields)}
    assert list(fields) == NAMES
    assert {name: _expression(f.type) for name, f in fields.items()} == {
        s.name: _expression(s.attribute_type) for s in SETTINGS
    }
    assert [name for name, f in fields.items() if not f.repr] == [
        s.name for s in SETTINGS if s.secret
    ]
    public = [f.name for f in dataclasses.fields(ProducerConfig) if not f.name.startswith("_")]
    assert public == NAMES


def test_options_rebuild_an_equal_config() -> None:
    config = ProducerConfig(linger_ms=9, acks=1, compression_type="lz4")
    assert list(config.options()) == NAMES
    assert ProducerConfig(**config.options()) == config  # type: ignore[arg-type]


def test_secrets_stay_out_of_the_repr() -> None:
    config = ProducerConfig(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="user",
        sasl_password="hunter2",
    )
    assert "hunter2" not in repr(config)
    assert "user" in repr(config)


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'lingr_ms'"):
        ProducerConfig(lingr_ms=5)  # type: ignore[call-arg]


# Which settings take Java's "5" and "true" strings: every int and bool setting, no other.
INT_SETTINGS = {
    "linger_ms",
    "batch_size",
    "buffer_memory",
    "max_block_ms",
    "compression_level",
    "max_in_flight_requests_per_connection",
    "retries",
    "retry_backoff_ms",
    "retry_backoff_max_ms",
    "delivery_timeout_ms",
    "request_timeout_ms",
    "max_request_size",
    "metadata_max_age_ms",
    "metadata_max_idle_ms",
    "connections_max_idle_ms",
    "reconnect_backoff_ms",
    "reconnect_backoff_max_ms",
    "metrics_num_samples",
    "metrics_sample_window_ms",
    "partitioner_availability_timeout_ms",
    "transaction_timeout_ms",
}
BOOL_SETTINGS = {
    "enable_idempotence",
    "enable_metrics_push",
    "partitioner_ignore_keys",
    "partitioner_adaptive_partitioning_enable",
    "ssl_check_hostname",
}


@pytest.mark.parametrize("setting", SETTINGS, ids=NAMES)
def test_strings_convert_by_type(setting: Setting) -> None:
    if setting.name in INT_SETTINGS:
        assert setting.from_string(" 42 ") == 42
        with pytest.raises(ConfigurationError, match=f"{setting.name} must be an int"):
            setting.from_string("soon")
    elif setting.name in BOOL_SETTINGS:
        assert setting.from_string("TRUE") is True
        assert setting.from_string("false") is False
        with pytest.raises(ConfigurationError, match=f"{setting.name} must be true or false"):
            setting.from_string("yes")
    else:
        assert setting.from_string(" 42 ") == " 42 "
    assert setting.from_string(7) == 7


# Java's names that need another property beside them, or take other values than ours.
_COMPANIONS: dict[str, dict[str, object]] = {
    "ssl.truststore.location": {"ssl.truststore.type": "PEM"},
    "ssl.keystore.location": {"ssl.keystore.type": "PEM"},
}
_JAVA_VALUES: dict[str, tuple[str, object]] = {
    "ssl.endpoint.identification.algorithm": ("", False),
}
JAVA = [s for s in SETTINGS if s.java is not None]


@pytest.mark.parametrize("setting", JAVA, ids=[s.name for s in JAVA])
def test_java_names_map_to_their_setting(setting: Setting) -> None:
    assert setting.java is not None
    kind = setting.type.removesuffix(" | None")
    default = {"int": ("7", 7), "bool": ("true", True)}.get(kind, ("x", "x"))
    given, expected = _JAVA_VALUES.get(setting.java, default)
    options = {setting.java: given, **_COMPANIONS.get(setting.java, {})}
    assert _normalise(options) == {setting.name: expected}
