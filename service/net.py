"""Outbound HTTP safety shared by every client that fetches a URL a user typed: feeds, feed discovery,
webhooks and notification URLs (the SSRF guard), and size-capped decoding of compressed bodies.

The guard sits where the socket is opened (an httpcore network backend), not in a request hook: a hook
resolves the name once and the transport resolves it again, so a DNS answer that changes between the
two (rebinding) reached loopback. Here the name is resolved once, every answer is checked, and the
connection goes to an address that was checked. A failed lookup fails closed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import brotli
import httpcore
import httpx

# Prefixes whose embedded IPv4 address is what is really reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_COMPAT = ipaddress.ip_network("::/96")  # IPv4-compatible (deprecated) ::a.b.c.d


class BlockedAddressError(Exception):
    """The URL resolves to a private, loopback or link-local address and those are not allowed."""


def is_public_address(value: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast addresses, looking through the IPv6 forms that carry an
    IPv4 address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, 6to4 2002::/16, NAT64 64:ff9b::/96)."""
    address = ipaddress.ip_address(str(value).split("%")[0]) if not isinstance(value, ipaddress._BaseAddress) else value
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address in _NAT64_LOCAL or address in _COMPAT:
            return False  # local-use NAT64 and the deprecated compatible form: never a public host
        if address.teredo is not None:
            return False
    return bool(address.is_global) and not address.is_multicast


def _checked(host: str, infos: list) -> list[str]:
    addresses = []
    for info in infos:
        text = info[4][0].split("%")[0]
        if not is_public_address(text):
            raise BlockedAddressError(f"{host} resolves to a private or local address ({text})")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise httpcore.ConnectError(f"name resolution failed: no address for {host}")
    return addresses


def _lookup_failed(host: str, exc: Exception) -> httpcore.ConnectError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return httpcore.ConnectError(f"name resolution failed: {reason}")


# The resolvers are module attributes so a test can stand in for DNS (which cannot be run here).
def resolve_sync(host: str, port: int) -> list:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def resolve_async(host: str, port: int) -> list:
    return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend):
        self._inner = inner

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201
        try:
            infos = await resolve_async(host, port)
        except (OSError, UnicodeError) as exc:
            raise _lookup_failed(host, exc) from None
        last: Exception | None = None
        for address in _checked(host, infos):
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last  # type: ignore[misc]

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ANN001, ANN201
        raise BlockedAddressError("Unix sockets are not reachable through the guarded client")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201
        return _connect_checked(host, port, lambda address: self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options),
            httpcore.ConnectError)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ANN001, ANN201
        raise BlockedAddressError("Unix sockets are not reachable through the guarded client")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _connect_checked(host: str, port: int, connect: Callable, errors: type[Exception] | tuple):  # noqa: ANN202
    """The guard's blocking connect: `host` resolved once, every answer checked (BlockedAddressError, or
    httpcore.ConnectError when the lookup fails), then `connect(address)` to each checked address in turn
    until one succeeds; the last of `errors` is raised when none does."""
    try:
        infos = resolve_sync(host, port)
    except (OSError, UnicodeError) as exc:
        raise _lookup_failed(host, exc) from None
    last: Exception | None = None
    for address in _checked(host, infos):
        try:
            return connect(address)
        except errors as exc:
            last = exc
    raise last  # type: ignore[misc]


def _guard(transport, backend_type):  # noqa: ANN001, ANN202
    pool = transport._pool  # httpx 0.28 (pinned): the httpcore pool that opens the sockets
    pool._network_backend = backend_type(pool._network_backend)
    return transport


def async_transport(*, allow_private: bool, limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose sockets only reach public addresses (unless `allow_private`)."""
    transport = httpx.AsyncHTTPTransport(limits=limits or httpx.Limits(), trust_env=False)
    return transport if allow_private else _guard(transport, GuardedAsyncBackend)


def sync_transport(*, allow_private: bool) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(trust_env=False)
    return transport if allow_private else _guard(transport, GuardedSyncBackend)


# -- the same guard for the connections Apprise's notifiers open -----------------------------------------
_GUARDED: ContextVar[bool] = ContextVar("followup_guarded_sockets", default=False)


@contextmanager
def guarded_sockets(*, allow_private: bool) -> Iterator[None]:
    """TCP connections opened in this context — and in the threads Apprise hands the context to — through
    urllib3 (requests: ntfy, Gotify, JSON, Slack, Telegram, Matrix, … notifiers) or `socket.create_connection`
    (smtplib: email notifiers; paho: MQTT) reach only public addresses (unless `allow_private`): the name is
    resolved once, every answer checked, and the connection goes to a checked address, as for httpx above.
    Without this, a name checked before a push could answer with a private address when the notifier
    connected (DNS rebinding). Outside such a context both behave as they always do."""
    _install_socket_guards()
    token = _GUARDED.set(not allow_private)
    try:
        yield
    finally:
        _GUARDED.reset(token)


def _guarded(unguarded: Callable) -> Callable:
    def create_connection(address, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if not _GUARDED.get():
            return unguarded(address, *args, **kwargs)
        host, port = address[0], address[1]
        try:  # TLS still verifies the name asked for
            return _connect_checked(host, port, lambda checked: unguarded((checked, port), *args, **kwargs), OSError)
        except (BlockedAddressError, httpcore.ConnectError) as exc:
            raise OSError(str(exc)) from None  # the client reports a failed connection, with this reason

    create_connection.followup_guard = True  # type: ignore[attr-defined]
    return create_connection


def _install_socket_guards() -> None:
    from urllib3.util import connection  # urllib3's HTTP(S)Connection opens every socket through this name

    if not getattr(connection.create_connection, "followup_guard", False):
        connection.create_connection = _guarded(connection.create_connection)
    if not getattr(socket.create_connection, "followup_guard", False):
        socket.create_connection = _guarded(socket.create_connection)


def check_url_host(url: str, *, allow_private: bool, resolve: Callable[[str, int], list] | None = None) -> None:
    """At add time: refuse a URL whose host is (or resolves to) a private address. The same check runs
    again at every connection; this one only gives the user their answer early."""
    if allow_private:
        return
    parts = httpx.URL(url)
    host = parts.host
    if not host:
        raise BlockedAddressError("the URL has no host")
    try:
        infos = (resolve or resolve_sync)(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return  # unresolvable now: every send resolves again and fails closed then
    _checked(host, infos)


# -- decoding with an output cap --------------------------------------------------------------------
ACCEPT_ENCODING = "gzip, deflate, br"
_STEP = 256 * 1024  # at most this much decoded output per step: memory stays bounded whatever the ratio


class TooLarge(Exception):
    """The decoded body passed the size cap."""


class UnsupportedEncoding(Exception):
    pass


class CappedDecoder:
    """Decodes one Content-Encoding (gzip, deflate, br or identity) step by step, raising TooLarge as
    soon as the *decoded* size passes `limit` — before a bomb is inflated, not after."""

    def __init__(self, encoding: str | None, limit: int):
        codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise UnsupportedEncoding(f"the server stacked several compressions ({', '.join(codings)})")
        self.coding = codings[0] if codings else None
        self.limit = limit
        self.size = 0
        self._first = True
        if self.coding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.coding == "deflate":
            self._z = zlib.decompressobj()
        elif self.coding == "br":
            self._br = brotli.Decompressor()
        elif self.coding is not None:
            raise UnsupportedEncoding(f"the server used a compression we do not read ({self.coding})")

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge
        return data

    def feed(self, data: bytes) -> list[bytes]:
        if self.coding is None:
            return [self._count(data)] if data else []
        try:
            if self.coding == "br":
                return self._feed_br(data)
            return self._feed_zlib(data)
        except (zlib.error, brotli.error, ValueError) as exc:
            raise httpx.DecodingError(f"could not decode {self.coding} ({exc})") from None

    def _feed_zlib(self, data: bytes) -> list[bytes]:
        if self._first and self.coding == "deflate" and data:
            self._first = False
            try:  # "deflate" is zlib-wrapped by the RFC, raw by many servers: try the RFC first
                probe = zlib.decompressobj()
                out = [self._count(probe.decompress(data, _STEP))]
                self._z = probe
                data = probe.unconsumed_tail
                return out + self._drain(data)
            except zlib.error:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._drain(data)

    def _drain(self, data: bytes) -> list[bytes]:
        out = []
        while data:
            piece = self._z.decompress(data, _STEP)
            out.append(self._count(piece))
            data = self._z.unconsumed_tail
            if self._z.eof:
                break
        return out

    def _feed_br(self, data: bytes) -> list[bytes]:
        out = [self._count(self._br.process(data, output_buffer_limit=_STEP))]
        while not self._br.can_accept_more_data():
            out.append(self._count(self._br.process(b"", output_buffer_limit=_STEP)))
        return out

    def flush(self) -> list[bytes]:
        if self.coding in ("gzip", "x-gzip", "deflate"):
            try:
                return [self._count(self._z.flush(_STEP))]
            except zlib.error as exc:
                raise httpx.DecodingError(f"could not decode {self.coding} ({exc})") from None
        return []
