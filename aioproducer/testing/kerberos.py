"""A throwaway MIT Kerberos realm, and a Kafka broker that authenticates clients by GSSAPI.

:class:`KerberosRealm` makes a realm in a directory of its own (``kdb5_util create``), adds
the broker's service principal ``kafka/localhost`` and a client principal with keytabs
(``kadmin.local``), and runs ``krb5kdc`` on a free loopback port; the ``KRB5_CONFIG`` and
``KRB5_KDC_PROFILE`` it generates are the only configuration read (DNS lookups and reverse
DNS off). :func:`kerberos_cluster` makes a one-node cluster (not started) with, beside the
harness's PLAINTEXT listener, a ``GSSAPI`` listener (SASL_PLAINTEXT, mechanism GSSAPI)
advertised as ``localhost`` so that the host-based service principal matches, whose
sessions must re-authenticate every :data:`REAUTH_MS` (KIP-368).

Needs Debian's ``krb5-kdc``, ``krb5-admin-server`` and ``krb5-user`` (``make gssapi``
installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from aioproducer.testing.cluster import LocalKafkaCluster, free_port
from aioproducer.testing.jars import HarnessError

__all__ = [
    "CLIENT",
    "REALM",
    "REAUTH_MS",
    "SERVICE",
    "KerberosRealm",
    "kerberos_cluster",
    "kerberos_tools",
    "localhost_bootstrap",
]

REALM: Final = "AIOPRODUCER.TEST"
#: The broker's principal (service ``kafka``, host ``localhost``) and the client's.
SERVICE: Final = "kafka/localhost"
CLIENT: Final = "aioproducer-client"
#: connections.max.reauth.ms of the GSSAPI listener: sessions re-authenticate (KIP-368).
REAUTH_MS: Final = 4000
_TOOLS: Final = ("krb5kdc", "kdb5_util", "kadmin.local")
_SBIN: Final = "/usr/sbin"


def kerberos_tools() -> dict[str, str] | None:
    """Paths of the MIT KDC's commands, or None when one is missing."""
    path = os.pathsep.join((os.environ.get("PATH", ""), _SBIN))
    found = {tool: shutil.which(tool, path=path) for tool in _TOOLS}
    if any(value is None for value in found.values()):
        return None
    return {tool: str(value) for tool, value in found.items()}


@dataclass
class KerberosRealm:
    """An MIT KDC for :data:`REALM` in ``directory`` (see the module docstring)."""

    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.directory / "kdc.conf"

    @property
    def service_keytab(self) -> Path:
        return self.directory / "kafka.keytab"

    @property
    def client_keytab(self) -> Path:
        return self.directory / "client.keytab"

    @property
    def client_principal(self) -> str:
        return f"{CLIENT}@{REALM}"

    def client_env(self, ccache: str = "client.ccache") -> dict[str, str]:
        """The environment a client authenticates with: this realm's krb5.conf, the client
        keytab (tickets are fetched from it on demand) and a ticket cache of its own."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_CLIENT_KTNAME": str(self.client_keytab),
            "KRB5CCNAME": f"FILE:{self.directory / ccache}",
        }

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
        }

    def _run(self, tools: dict[str, str], tool: str, *args: str) -> None:
        done = subprocess.run(  # fixed arguments, no shell
            [tools[tool], *args],
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise HarnessError(f"{tool} {' '.join(args)} failed: {done.stderr.strip()}")

    def _write_config(self) -> None:
        d = self.directory
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f" default_realm = {REALM}\n"
            " dns_lookup_kdc = false\n dns_lookup_realm = false\n"
            " rdns = false\n dns_canonicalize_hostname = false\n"
            " udp_preference_limit = 1\n"  # TCP, for MIT and Java alike
            " ticket_lifetime = 1h\n forwardable = false\n"
            "[realms]\n"
            f" {REALM} = {{\n  kdc = 127.0.0.1:{self.port}\n }}\n"
            f"[domain_realm]\n localhost = {REALM}\n"
        )
        self.kdc_conf.write_text(
            "[realms]\n"
            f" {REALM} = {{\n"
            f"  database_name = {d / 'principal'}\n"
            f"  key_stash_file = {d / 'stash'}\n"
            f"  acl_file = {d / 'kadm5.acl'}\n"
            f"  kdc_listen = 127.0.0.1:{self.port}\n"
            f"  kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "  max_life = 1h\n"
            "  supported_enctypes = aes256-cts-hmac-sha1-96:normal "
            "aes128-cts-hmac-sha1-96:normal\n"
            " }\n"
            f"[logging]\n kdc = FILE:{d / 'kdc.log'}\n"
        )
        (d / "kadm5.acl").write_text("")

    def start(self, timeout: float = 30.0) -> Self:
        """Create the realm and its principals, then run the KDC until it answers."""
        tools = kerberos_tools()
        if tools is None:
            raise HarnessError(
                "a Kerberos KDC needs MIT's krb5kdc, kdb5_util and kadmin.local "
                "(apt-get install krb5-kdc krb5-admin-server krb5-user; or make gssapi)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self._write_config()
        self._run(tools, "kdb5_util", "create", "-s", "-r", REALM, "-P", "throwaway-master-key")
        for principal, keytab in ((SERVICE, self.service_keytab), (CLIENT, self.client_keytab)):
            self._run(tools, "kadmin.local", "-r", REALM, "-q", f"addprinc -randkey {principal}")
            self._run(tools, "kadmin.local", "-r", REALM, "-q", f"ktadd -k {keytab} {principal}")
        log = (self.directory / "krb5kdc.out").open("ab")
        try:
            self.process = subprocess.Popen(
                [tools["krb5kdc"], "-n", "-r", REALM],  # -n: in the foreground, ours to stop
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise HarnessError(
                        f"krb5kdc did not listen on 127.0.0.1:{self.port}: see "
                        f"{self.directory / 'kdc.log'}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the KDC (the realm's files stay)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def kerberos_cluster(
    workdir: Path, realm: KerberosRealm, *, die_with_parent: bool = True
) -> LocalKafkaCluster:
    """A one-node cluster (not started) with a ``GSSAPI`` listener for ``realm``'s clients."""
    jaas = (
        "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true "
        f'keyTab="{realm.service_keytab}" principal="{SERVICE}@{REALM}";'
    )
    cluster = LocalKafkaCluster(
        1,
        workdir=workdir,
        listeners={"GSSAPI": "SASL_PLAINTEXT"},
        broker_config={
            "sasl.enabled.mechanisms": "GSSAPI",
            "sasl.kerberos.service.name": "kafka",
            "listener.name.gssapi.gssapi.sasl.jaas.config": jaas,
            "listener.name.gssapi.connections.max.reauth.ms": str(REAUTH_MS),
        },
        jvm_options=[f"-Djava.security.krb5.conf={realm.krb5_conf}"],
        die_with_parent=die_with_parent,
    )
    node = cluster.nodes[0]
    cluster.broker_config["advertised.listeners"] = (
        f"PLAINTEXT://127.0.0.1:{node.port},GSSAPI://{localhost_bootstrap(cluster)}"
    )
    return cluster


def localhost_bootstrap(cluster: LocalKafkaCluster) -> str:
    """The GSSAPI listener's bootstrap string, by the host name its principal has."""
    return ",".join(f"localhost:{node.listener_ports['GSSAPI']}" for node in cluster.nodes)
