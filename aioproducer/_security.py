"""TLS contexts and Java's security settings, turned into what a connection needs.

:func:`build_ssl_context` loads the PEM files of ``ssl_cafile``/``ssl_certfile``/``ssl_keyfile``
once, when the configuration is made, so a missing file or a wrong key password is a
:class:`~aioproducer.errors.ConfigurationError` at construction, not a retry loop later.
:func:`parse_jaas_config` reads the ``username="..." password="...";`` of Java's
``sasl.jaas.config``. :func:`tls_failure` says why a TLS handshake was refused.
"""

from __future__ import annotations

import os
import re
import ssl
from typing import Final

from aioproducer.errors import AuthenticationError, ConfigurationError, SSLVerificationError

__all__ = ["build_ssl_context", "parse_jaas_config", "tls_failure"]

_LOGIN_MODULES: Final = {
    "org.apache.kafka.common.security.plain.PlainLoginModule": "PLAIN",
    "org.apache.kafka.common.security.scram.ScramLoginModule": "SCRAM",
}
_JAAS: Final = re.compile(r"^\s*(?P<module>[\w.$]+)\s+(?P<flag>\w+)(?P<options>.*?);?\s*$", re.S)
_JAAS_OPTION: Final = re.compile(r'\s*(?P<key>[\w.-]+)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"')


def build_ssl_context(
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    password: str | None,
    check_hostname: bool,
) -> ssl.SSLContext:
    """A client context trusting ``cafile`` (else the system's CAs), showing ``certfile``."""
    files = {"ssl_cafile": cafile, "ssl_certfile": certfile, "ssl_keyfile": keyfile}
    for name, path in files.items():
        if path is not None and not os.path.isfile(path):
            raise ConfigurationError(f"{name}: TLS file not found: {path}")
    try:
        context = ssl.create_default_context(cafile=cafile)
        context.check_hostname = check_hostname
        if certfile is not None:
            context.load_cert_chain(certfile, keyfile, password)
    except (ssl.SSLError, OSError, ValueError) as exc:
        # the message names the file or the reason, never the password
        reason = getattr(exc, "reason", None) or type(exc).__name__
        given = ", ".join(f for f in files.values() if f is not None)
        raise ConfigurationError(
            f"could not load the TLS files ({given}): {reason} (a wrong ssl_password, or not PEM?)"
        ) from None
    return context


def parse_jaas_config(text: object) -> tuple[str, str, str]:
    """``(family, username, password)`` of a PlainLoginModule or ScramLoginModule line;
    ``family`` is ``"PLAIN"`` or ``"SCRAM"``."""
    match = _JAAS.match(text) if isinstance(text, str) else None
    family = _LOGIN_MODULES.get(match["module"]) if match is not None else None
    if match is None or family is None or match["flag"] != "required":
        modules = " or ".join(_LOGIN_MODULES)
        raise ConfigurationError(
            f'sasl.jaas.config must read \'<{modules}> required username="..." '
            'password="...";\' (other login modules are not implemented)'
        )
    options: dict[str, str] = {}
    rest = match["options"]
    while rest.strip():
        option = _JAAS_OPTION.match(rest)
        if option is None:
            raise ConfigurationError('sasl.jaas.config: options must be key="value" pairs')
        options[option["key"]] = re.sub(r"\\(.)", r"\1", option["value"])
        rest = rest[option.end() :]
    username, password = options.pop("username", None), options.pop("password", None)
    if username is None or password is None:
        raise ConfigurationError("sasl.jaas.config needs both username and password")
    if options:
        raise ConfigurationError(
            f"sasl.jaas.config: option(s) {', '.join(sorted(options))} are not implemented"
        )
    return family, username, password


def tls_failure(exc: BaseException, where: str) -> AuthenticationError | None:
    """The error to raise for a TLS handshake ``exc`` with ``where`` that retrying will not
    mend (an untrusted certificate, a wrong host name, a refusal from the broker); None for
    any other failure."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SSLVerificationError(
            f"the TLS certificate of broker {where} failed verification: "
            f"{exc.verify_message or exc.reason}"
        )
    if isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or ""):
        return AuthenticationError(
            f"broker {where} refused the TLS handshake ({exc.reason}): does it require a "
            "client certificate (ssl_certfile), or one it trusts?"
        )
    return None
