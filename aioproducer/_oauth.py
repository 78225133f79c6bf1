"""OAUTHBEARER tokens: what ``sasl_oauth_token_provider`` returns, and the cache over it.

The provider is called when a connection authenticates (or re-authenticates) and the token
held is missing or past :data:`REFRESH_FACTOR` of its lifetime (Java's
``sasl.login.refresh.window.factor``), so new connections and re-authentications use a fresh
token while the old one is still valid. Concurrent authentications share one call. A
provider may be:

- a callable, sync or async, returning an :class:`OAuthToken` or a ``(token,
  expires_at_ms)`` pair;
- an object with a ``token()`` method (sync or async) returning the token string and,
  optionally, an ``extensions()`` method returning a dict, as aiokafka's
  ``AbstractTokenProvider``. Its tokens have no known expiry, so it is called for every
  authentication.

Tokens appear in no repr, log line or error message.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeAlias

from aioproducer._protocol.sasl import OAuthBearerMechanism
from aioproducer.errors import AuthenticationError, ConfigurationError

__all__ = [
    "REFRESH_FACTOR",
    "OAuthCredentials",
    "OAuthToken",
    "TokenProvider",
    "TokenResult",
    "TokenSource",
    "check_provider",
]

#: A token is replaced once this share of its lifetime has passed.
REFRESH_FACTOR: Final = 0.8
_TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750's b64token
_KEY: Final = re.compile(r"[A-Za-z]+")  # RFC 7628 §3.1
_VALUE: Final = re.compile(r"[\x21-\x7e \t\r\n]+")


@dataclass(frozen=True, slots=True)
class OAuthToken:
    """An OAuth 2 bearer token, when it expires (ms since the epoch, as Java's
    ``OAuthBearerToken.lifetimeMs()``) and SASL extensions to send with it (RFC 7628 §3.1)."""

    token: str = field(repr=False)
    expires_at_ms: int
    extensions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or not _TOKEN.fullmatch(self.token):
            raise AuthenticationError(
                "the OAUTHBEARER token is not a bearer token (RFC 6750: letters, digits, "
                "-._~+/ and trailing =)"
            )
        if isinstance(self.expires_at_ms, bool) or not isinstance(self.expires_at_ms, int):
            raise AuthenticationError(
                f"OAuthToken.expires_at_ms must be an int (ms since the epoch), "
                f"not {type(self.expires_at_ms).__name__}"
            )
        for key, value in self.extensions.items():
            if not isinstance(key, str) or not _KEY.fullmatch(key) or key == "auth":
                raise AuthenticationError(f"bad SASL extension name {key!r} (letters only)")
            if not isinstance(value, str) or not _VALUE.fullmatch(value):
                raise AuthenticationError(f"SASL extension {key!r}: the value has bad characters")

    @classmethod
    def with_lifetime(
        cls, token: str, lifetime_s: float, extensions: Mapping[str, str] | None = None
    ) -> OAuthToken:
        """A token that expires ``lifetime_s`` seconds from now."""
        return cls(token, int((time.time() + lifetime_s) * 1000), dict(extensions or {}))


class TokenSource(Protocol):
    """aiokafka's ``AbstractTokenProvider`` shape (``extensions()`` is optional)."""

    def token(self) -> str | Awaitable[str]: ...


TokenResult: TypeAlias = OAuthToken | tuple[str, int]
#: What ``sasl_oauth_token_provider`` may be (see the module docstring).
TokenProvider: TypeAlias = Callable[[], TokenResult | Awaitable[TokenResult]] | TokenSource


def check_provider(provider: object) -> None:
    """ConfigurationError unless ``provider`` has one of the accepted shapes."""
    if not callable(provider) and not callable(getattr(provider, "token", None)):
        raise ConfigurationError(
            "sasl_oauth_token_provider must be a callable returning an OAuthToken (or a "
            f"(token, expires_at_ms) pair), or an object with a token() method, not {provider!r}"
        )


async def _resolve(value: object) -> object:
    return await value if inspect.isawaitable(value) else value


class OAuthCredentials:
    """The OAUTHBEARER credentials of one producer: the provider and its current token."""

    mechanism = "OAUTHBEARER"
    username = None

    def __init__(self, provider: object) -> None:
        check_provider(provider)
        self._provider = provider
        self._token: OAuthToken | None = None
        self._refresh_at = 0.0
        self._fetching: asyncio.Future[OAuthToken] | None = None
        self.fetches = 0
        """How many times the provider was called."""

    def __repr__(self) -> str:
        return "<OAuthCredentials>"

    def describe(self) -> str:
        return "OAUTHBEARER authentication"

    async def exchange(self, host: str = "") -> OAuthBearerMechanism:
        """A fresh exchange with a token valid now (calling the provider if need be); the
        broker's ``host`` does not matter to it."""
        token = self._token
        if token is None or time.time() >= self._refresh_at:
            token = await self._fetch_shared()
        return OAuthBearerMechanism(token.token, token.extensions)

    async def _fetch_shared(self) -> OAuthToken:
        if self._fetching is None:
            self._fetching = asyncio.ensure_future(self._fetch())
            self._fetching.add_done_callback(self._fetched)
        return await asyncio.shield(self._fetching)

    def _fetched(self, future: asyncio.Future[OAuthToken]) -> None:
        self._fetching = None
        if not future.cancelled():
            future.exception()  # retrieved: every waiter got it

    async def _fetch(self) -> OAuthToken:
        self.fetches += 1
        provider = self._provider
        asked = time.time()
        try:
            if callable(provider):
                token = _as_token(await _resolve(provider()))
                known_expiry = True
            else:
                value = await _resolve(provider.token())  # type: ignore[attr-defined]
                extensions = getattr(provider, "extensions", None)
                extra = await _resolve(extensions()) if callable(extensions) else None
                if not isinstance(value, str):
                    raise AuthenticationError(
                        f"token() must return a str, not {type(value).__name__}"
                    )
                token = OAuthToken(value, 0, _extensions(extra))
                known_expiry = False
        except AuthenticationError as exc:
            raise AuthenticationError(f"sasl_oauth_token_provider: {exc}") from None
        except Exception as exc:
            raise AuthenticationError(
                f"sasl_oauth_token_provider raised {type(exc).__name__}: {exc}"
            ) from exc
        if known_expiry:
            expires = token.expires_at_ms / 1000
            if expires <= time.time():
                raise AuthenticationError(
                    "sasl_oauth_token_provider returned a token that has already expired"
                )
            self._token = token
            self._refresh_at = asked + (expires - asked) * REFRESH_FACTOR
        return token


def _extensions(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AuthenticationError(f"extensions() must return a dict, not {type(value).__name__}")
    return dict(value)


def _as_token(value: object) -> OAuthToken:
    if isinstance(value, OAuthToken):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return OAuthToken(*value)
    raise AuthenticationError(
        f"expected an OAuthToken or a (token, expires_at_ms) pair, not {type(value).__name__}"
    )
