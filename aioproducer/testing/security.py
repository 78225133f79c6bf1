"""A real broker with TLS and SASL listeners, and the certificates and users to reach it.

:func:`secure_cluster` returns a :class:`~aioproducer.testing.cluster.LocalKafkaCluster`
whose nodes serve, beside the PLAINTEXT listener the harness itself uses:

- ``SSL``: TLS with a certificate for 127.0.0.1 and localhost, signed by a test CA;
- ``MTLS``: the same, and the client must show a certificate signed by that CA;
- ``BADHOST``: TLS with a certificate valid only for ``wrong.example`` (hostname checks fail);
- ``SASL_SSL`` and ``SASL_PLAINTEXT``: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER
  (Kafka's unsecured validator: any unsigned JWT with ``sub`` and ``exp`` claims is accepted);
- ``REAUTH``: as ``SASL_PLAINTEXT``, with sessions that must re-authenticate every
  :data:`REAUTH_MS` (KIP-368).

ACLs are enforced (KRaft's StandardAuthorizer): :data:`SUPER_USERS` may do anything; the
users :data:`RESTRICTED_USERS` only what a test grants them with :func:`grant`.

Certificates are made at run time with the ``openssl`` command into ``<workdir>/tls``;
Kafka reads them as PEM. :func:`secure_setup` describes a started one for tests.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from aioproducer.testing._extra import missing_extra
from aioproducer.testing.cluster import LocalKafkaCluster
from aioproducer.testing.jars import HarnessError

__all__ = [
    "REAUTH_MS",
    "RESTRICTED_USERS",
    "SCRAM_MECHANISMS",
    "SUPER_USERS",
    "USERS",
    "Certificates",
    "SecureSetup",
    "generate_certificates",
    "grant",
    "secure_cluster",
    "secure_setup",
    "unsecured_jwt",
]

#: name -> password of the SASL users (PLAIN and both SCRAM mechanisms know each).
USERS = {
    "alice": "alice-secret",
    "bob": "bob-secret",
    "carol": "carol-secret",
    "dave": "dave-secret",
}
#: Users allowed only what ACLs grant them (nothing at first).
RESTRICTED_USERS = ("carol", "dave")
#: Principals the authorizer lets do anything: the PLAINTEXT and SSL listeners (ANONYMOUS),
#: the mutual-TLS client certificate, and the unrestricted SASL users.
SUPER_USERS = (
    "User:ANONYMOUS",
    "User:CN=aioproducer-client",
    *(f"User:{name}" for name in USERS if name not in RESTRICTED_USERS),
)
#: connections.max.reauth.ms of the REAUTH listener.
REAUTH_MS = 3000
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
#: listener name -> security protocol, beside PLAINTEXT.
LISTENERS = {
    "SSL": "SSL",
    "MTLS": "SSL",
    "BADHOST": "SSL",
    "SASL_SSL": "SASL_SSL",
    "SASL_PLAINTEXT": "SASL_PLAINTEXT",
    "REAUTH": "SASL_PLAINTEXT",
}
KEY_PASSWORD = "client-key-secret"  # noqa: S105  # a throwaway test key's
_PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
_OAUTH_MODULE = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
_OAUTH_VALIDATOR = (
    "org.apache.kafka.common.security.oauthbearer.internals.unsecured."
    "OAuthBearerUnsecuredValidatorCallbackHandler"
)


@dataclass(frozen=True)
class Certificates:
    """PEM files in ``directory``: a CA, the brokers' keystores, a client's cert and keys."""

    directory: Path
    ca_file: Path = field(init=False)
    broker_keystore: Path = field(init=False)
    badhost_keystore: Path = field(init=False)
    client_cert: Path = field(init=False)
    client_key: Path = field(init=False)
    client_key_encrypted: Path = field(init=False)
    """The client key encrypted with :data:`KEY_PASSWORD`."""

    def __post_init__(self) -> None:
        for name, file in (
            ("ca_file", "ca.pem"),
            ("broker_keystore", "broker-keystore.pem"),
            ("badhost_keystore", "badhost-keystore.pem"),
            ("client_cert", "client.pem"),
            ("client_key", "client.key"),
            ("client_key_encrypted", "client-encrypted.key"),
        ):
            object.__setattr__(self, name, self.directory / file)


def _openssl(directory: Path, command_line: str) -> None:
    """Run ``openssl`` with ``command_line`` split on spaces, in ``directory``."""
    command = shutil.which("openssl")
    if command is None:
        raise HarnessError("the openssl command is needed to make test certificates")
    args = command_line.split()
    done = subprocess.run(  # fixed arguments, no shell
        [command, *args], cwd=directory, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise HarnessError(f"openssl {args[0]} failed: {done.stderr.strip()}")


_NEW_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"


def _signed(directory: Path, name: str, subject: str, extensions: str) -> None:
    """``name.key`` and ``name.pem``: a P-256 key and its certificate signed by the CA."""
    (directory / f"{name}.ext").write_text(extensions + "\n")
    _openssl(directory, f"req {_NEW_KEY} -keyout {name}.key -out {name}.csr -subj {subject}")
    _openssl(
        directory,
        f"x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7"
        f" -out {name}.pem -extfile {name}.ext",
    )


def generate_certificates(directory: Path) -> Certificates:
    """Make a CA, broker keystores (good and wrong-host) and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        directory,
        f"req -x509 {_NEW_KEY} -keyout ca.key -out ca.pem -days 7 -subj /CN=aioproducer-test-CA"
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
    )
    server = "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName="
    _signed(directory, "broker", "/CN=localhost", server + "IP:127.0.0.1,DNS:localhost")
    _signed(directory, "badhost", "/CN=wrong.example", server + "DNS:wrong.example")
    _signed(directory, "client", "/CN=aioproducer-client", "extendedKeyUsage=clientAuth")
    _openssl(
        directory,
        "pkcs8 -topk8 -v2 aes-256-cbc -in client.key -out client-encrypted.key"
        f" -passout pass:{KEY_PASSWORD}",
    )
    certificates = Certificates(directory)
    for name, keystore in (
        ("broker", certificates.broker_keystore),
        ("badhost", certificates.badhost_keystore),
    ):
        key = (directory / f"{name}.key").read_text()
        keystore.write_text(key + (directory / f"{name}.pem").read_text())
    return certificates


def _broker_config(certificates: Certificates) -> dict[str, str]:
    config = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certificates.broker_keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certificates.ca_file),
        "ssl.client.auth": "none",
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.badhost.ssl.keystore.location": str(certificates.badhost_keystore),
        "sasl.enabled.mechanisms": ",".join(("PLAIN", *SCRAM_MECHANISMS, "OAUTHBEARER")),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": ";".join(SUPER_USERS),
        "listener.name.reauth.connections.max.reauth.ms": str(REAUTH_MS),
    }
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in USERS.items())
    for listener in ("sasl_ssl", "sasl_plaintext", "reauth"):
        config[f"listener.name.{listener}.plain.sasl.jaas.config"] = (
            f"{_PLAIN_MODULE} required {plain_users};"
        )
        config[f"listener.name.{listener}.oauthbearer.sasl.jaas.config"] = (
            f'{_OAUTH_MODULE} required unsecuredLoginStringClaim_sub="admin";'
        )
        config[f"listener.name.{listener}.oauthbearer.sasl.server.callback.handler.class"] = (
            _OAUTH_VALIDATOR
        )
        for mechanism in SCRAM_MECHANISMS:
            config[f"listener.name.{listener}.{mechanism.lower()}.sasl.jaas.config"] = (
                f"{_SCRAM_MODULE} required;"
            )
    return config


def secure_cluster(
    workdir: Path, *, die_with_parent: bool = True, heap: str = "512m"
) -> LocalKafkaCluster:
    """A one-node cluster (not started) with the listeners of the module docstring."""
    certificates = generate_certificates(workdir / "tls")
    scram = [
        f"--add-scram={mechanism}=[name={name},password={password}]"
        for mechanism in SCRAM_MECHANISMS
        for name, password in USERS.items()
    ]
    return LocalKafkaCluster(
        1,
        workdir=workdir,
        broker_config=_broker_config(certificates),
        listeners=LISTENERS,
        format_args=scram,
        die_with_parent=die_with_parent,
        heap=heap,
    )


@dataclass(frozen=True)
class SecureSetup:
    """What a test needs to reach a :func:`secure_cluster`: addresses, files, users."""

    cluster: LocalKafkaCluster
    certificates: Certificates
    users: dict[str, str]

    @property
    def plaintext(self) -> str:
        """The PLAINTEXT bootstrap string (for admin work and reading records back)."""
        return self.cluster.bootstrap_servers

    def bootstrap(self, listener: str) -> str:
        """The bootstrap string of ``listener`` (SSL, MTLS, BADHOST, SASL_SSL, ...)."""
        return self.cluster.listener_bootstrap(listener)

    def describe(self) -> str:
        """Several lines naming every listener, file and user."""
        lines = [f"PLAINTEXT {self.plaintext}"]
        lines += [f"{name} {self.bootstrap(name)}" for name in self.cluster.listeners]
        certs = self.certificates
        lines += [
            f"CA file {certs.ca_file}",
            f"client certificate {certs.client_cert}",
            f"client key {certs.client_key} (encrypted: {certs.client_key_encrypted},"
            f" password {KEY_PASSWORD})",
            "users (PLAIN, "
            + ", ".join(SCRAM_MECHANISMS)
            + "): "
            + ", ".join(f"{n}/{p}" for n, p in self.users.items())
            + f" ({' and '.join(RESTRICTED_USERS)} only as ACLs allow)",
            "OAUTHBEARER: any unsigned JWT (alg none) with sub and exp claims",
            f"REAUTH: sessions re-authenticate every {REAUTH_MS} ms",
        ]
        return "\n".join(lines)

    def grant(self, user: str, operation: str, resource: str = "topic", name: str = "") -> None:
        """Allow ``user`` ``operation`` (READ, WRITE, DESCRIBE, IDEMPOTENT_WRITE, ...) on the
        ``resource`` (``topic`` or ``cluster``) named ``name``, through the Admin API."""
        grant(self.plaintext, user, operation, resource, name)


def grant(
    bootstrap: str, user: str, operation: str, resource: str = "topic", name: str = ""
) -> None:
    """Create an ALLOW ACL (CreateAcls through confluent-kafka's AdminClient) on the broker
    at ``bootstrap``: ``User:<user>`` may ``operation`` the ``resource`` named ``name``."""
    try:
        from confluent_kafka.admin import (  # type: ignore[attr-defined]  # noqa: PLC0415
            AclBinding,
            AclBindingFilter,
            AclOperation,
            AclPermissionType,
            AdminClient,
            ResourcePatternType,
            ResourceType,
        )
    except ImportError as exc:
        raise missing_extra(exc, "granting ACLs (aioproducer.testing.security)") from exc
    cluster = resource == "cluster"  # librdkafka calls Kafka's CLUSTER resource BROKER
    fields = (
        ResourceType.BROKER if cluster else ResourceType[resource.upper()],
        "kafka-cluster" if cluster else name,
        ResourcePatternType.LITERAL,
        f"User:{user}",
        "*",
        AclOperation[operation.upper()],
        AclPermissionType.ALLOW,
    )
    binding = AclBinding(*fields)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_acls([binding], request_timeout=10).values():
        future.result(timeout=15)
    deadline = time.monotonic() + 15  # the broker applies it from the metadata log: wait
    while binding not in admin.describe_acls(AclBindingFilter(*fields), request_timeout=10).result(
        timeout=15
    ):
        if time.monotonic() > deadline:
            raise HarnessError(f"the broker did not apply the ACL {binding}")
        time.sleep(0.05)


def unsecured_jwt(subject: str, lifetime_s: float = 3600.0, **claims: object) -> str:
    """An unsigned JWT (``alg: none``) for ``subject``, expiring ``lifetime_s`` from now: what
    the broker's unsecured OAUTHBEARER validator accepts (a negative lifetime: expired)."""
    now = time.time()

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    body = {"sub": subject, "iat": int(now) - 1, "exp": int(now + lifetime_s), **claims}
    return f"{part({'alg': 'none'})}.{part(body)}."


def secure_setup(cluster: LocalKafkaCluster) -> SecureSetup:
    """Describe a cluster made by :func:`secure_cluster`."""
    if set(LISTENERS) - set(cluster.listeners):
        raise HarnessError("this cluster was not started with the secure listeners")
    return SecureSetup(cluster, Certificates(cluster.workdir / "tls"), dict(USERS))
