"""TLS and SASL settings: validated at construction, Java's names mapped, secrets hidden."""

from __future__ import annotations

import ssl

import pytest

from aioproducer import Producer, ProducerConfig
from aioproducer._security import parse_jaas_config
from aioproducer.errors import ConfigurationError
from aioproducer.testing.security import KEY_PASSWORD, Certificates, generate_certificates

SECRETS = (KEY_PASSWORD, "hunter2")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return generate_certificates(tmp_path_factory.mktemp("tls"))


def test_ssl_with_files_builds_a_context(certs: Certificates) -> None:
    config = ProducerConfig(
        security_protocol="ssl",
        ssl_cafile=str(certs.ca_file),
        ssl_certfile=str(certs.client_cert),
        ssl_keyfile=str(certs.client_key_encrypted),
        ssl_password=KEY_PASSWORD,
    )
    assert config.security_protocol == "SSL"
    assert isinstance(config.tls, ssl.SSLContext)
    assert config.tls.check_hostname
    for text in (repr(config), str(config), repr(Producer(config))):
        assert KEY_PASSWORD not in text


def test_plaintext_has_no_context() -> None:
    assert ProducerConfig().tls is None


@pytest.mark.parametrize(
    "options",
    [
        {"ssl_cafile": "ca.pem"},
        {"ssl_context": ssl.create_default_context()},
        {"ssl_check_hostname": False},
    ],
)
def test_tls_settings_without_tls_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="would be ignored"):
        ProducerConfig(**options)  # type: ignore[arg-type]


def test_a_context_and_files_are_refused(certs: Certificates) -> None:
    with pytest.raises(ConfigurationError, match="ssl_context and ssl_cafile"):
        ProducerConfig(
            security_protocol="SSL",
            ssl_context=ssl.create_default_context(),
            ssl_cafile=str(certs.ca_file),
        )


def test_hostname_check_must_agree_with_the_context() -> None:
    context = ssl.create_default_context()
    with pytest.raises(ConfigurationError, match="agree"):
        ProducerConfig(security_protocol="SSL", ssl_context=context, ssl_check_hostname=False)
    context.check_hostname = False
    config = ProducerConfig(security_protocol="SSL", ssl_context=context, ssl_check_hostname=False)
    assert config.tls is context


def test_a_key_needs_a_certificate(certs: Certificates) -> None:
    with pytest.raises(ConfigurationError, match="need ssl_certfile"):
        ProducerConfig(security_protocol="SSL", ssl_keyfile=str(certs.client_key))


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigurationError, match="ssl_cafile: TLS file not found: /nonexistent/ca"):
        ProducerConfig(security_protocol="SSL", ssl_cafile="/nonexistent/ca.pem")


def test_a_wrong_key_password_is_refused_without_showing_it(certs: Certificates) -> None:
    with pytest.raises(ConfigurationError, match="could not load") as info:
        ProducerConfig(
            security_protocol="SSL",
            ssl_certfile=str(certs.client_cert),
            ssl_keyfile=str(certs.client_key_encrypted),
            ssl_password="hunter2",
        )
    assert "hunter2" not in str(info.value)
    assert info.value.__cause__ is None


def test_java_names(certs: Certificates) -> None:
    config = ProducerConfig.from_mapping(
        {
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certs.ca_file),
            "ssl.endpoint.identification.algorithm": "",
        }
    )
    assert config.ssl_cafile == str(certs.ca_file)
    assert config.ssl_check_hostname is False
    assert config.tls is not None
    assert not config.tls.check_hostname


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ssl.truststore.type": "JKS"}, "only PEM"),
        ({"ssl.keystore.location": "k.pem"}, "needs ssl.keystore.type=PEM"),
        ({"ssl.endpoint.identification.algorithm": "http"}, "'https' or ''"),
    ],
)
def test_java_names_not_implemented(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ProducerConfig.from_mapping({"security.protocol": "SSL", **options})


PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


def test_jaas_config() -> None:
    plain = f'{PLAIN_MODULE} required username="a" password="p\\"q";'
    assert parse_jaas_config(plain) == ("PLAIN", "a", 'p"q')
    scram = f'{SCRAM_MODULE} required\n  username="u"\n  password="hunter2";'
    assert parse_jaas_config(scram) == ("SCRAM", "u", "hunter2")


@pytest.mark.parametrize(
    "text",
    [
        'com.sun.security.auth.module.Krb5LoginModule required password="hunter2";',
        f'{PLAIN_MODULE} required password="hunter2";',
        f'{PLAIN_MODULE} optional username="u" password="hunter2";',
        f'{PLAIN_MODULE} required username="u" password="hunter2" x="y";',
        f'{PLAIN_MODULE} required username=u password="hunter2";',
        None,
    ],
)
def test_bad_jaas_config(text: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_jaas_config(text)
    assert "hunter2" not in str(info.value)
