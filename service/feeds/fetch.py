"""The only HTTP client code: conditional GET with limits. Returns a FetchResult; never raises for a status."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from .. import USER_AGENT
from ..net import ACCEPT_ENCODING, BlockedAddressError, CappedDecoder, TooLarge, UnsupportedEncoding, async_transport

__all__ = ["BlockedAddressError", "FetchResult", "Fetcher", "fetch_once"]

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_PERMANENT = {301, 308}


@dataclass
class FetchResult:
    url: str
    status: int | None = None  # HTTP status; None when no response arrived
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    # Set only when every redirect hop was permanent (301/308): the feed moved for good.
    moved_to: str | None = None
    retry_after_seconds: int | None = None
    max_age_seconds: int | None = None
    elapsed: float = 0.0
    error: str | None = None  # one plain sentence
    error_kind: str | None = None  # timeout | dns | connect | too_large | blocked | http | protocol
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    """Retry-After as seconds: either a number or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0, int((when - (now or datetime.now(timezone.utc))).total_seconds()))


def parse_max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() in ("max-age", "s-maxage") and value.strip().isdigit():
            return int(value.strip())
    return None


class Fetcher:
    """An httpx.AsyncClient with a global limit and a per-host limit on open requests."""

    def __init__(
        self,
        *,
        concurrency: int = 20,
        per_host: int = 2,
        timeout: float = 30.0,
        max_body_bytes: int = 10 * 1024 * 1024,
        allow_private_hosts: bool = False,
        user_agent: str = USER_AGENT,
    ):
        self.max_body_bytes = max_body_bytes
        self._global = asyncio.Semaphore(concurrency)
        self._per_host: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": user_agent, "Accept": _ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
            transport=async_transport(allow_private=allow_private_hosts, limits=limits),
        )
        self._timeout = timeout

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        await self.client.aclose()

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        host = (urlsplit(url).hostname or "").lower()
        async with self._global, self._per_host[host]:
            started = time.monotonic()
            try:
                # The whole request, body included, is bounded: a server trickling bytes must not
                # hold a slot forever (PITFALLS.md: a hung job blocks a max_instances=1 job).
                result = await asyncio.wait_for(self._fetch(url, etag, last_modified), self._timeout + 5)
            except asyncio.TimeoutError:
                result = FetchResult(url, error=f"No complete response within {self._timeout:g} seconds", error_kind="timeout")
            result.elapsed = time.monotonic() - started
            return result

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                result = self._describe(url, response)
                if response.status_code == 200:
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_body_bytes:
                        return self._too_large(result)
                    # Decoded here, not by httpx: its decoders inflate a whole chunk at once, so 13 KB of
                    # brotli became 8 GiB before any cap could look (docs/security.md).
                    try:
                        decoder = CappedDecoder(response.headers.get("content-encoding"), self.max_body_bytes)
                    except UnsupportedEncoding as exc:
                        result.error, result.error_kind = f"Refused: {exc}", "protocol"
                        return result
                    chunks = []
                    try:
                        async for chunk in response.aiter_raw():
                            chunks.extend(decoder.feed(chunk))
                        chunks.extend(decoder.flush())
                    except TooLarge:
                        chunks.clear()
                        return self._too_large(result)
                    result.body = b"".join(chunks)
                    result.body_hash = hashlib.sha256(result.body).hexdigest()
                elif response.status_code != 304:
                    result.error = _status_sentence(response.status_code, response.reason_phrase)
                    result.error_kind = "http"
                return result
        except BlockedAddressError as exc:
            return FetchResult(url, error=f"Refused: {exc} (set FOLLOWUP_ALLOW_PRIVATE_HOSTS=true to allow)", error_kind="blocked")
        except httpx.TimeoutException:
            return FetchResult(url, error=f"No response within {self._timeout:g} seconds", error_kind="timeout")
        except httpx.ConnectError as exc:
            kind = "dns" if _is_dns_error(exc) else "connect"
            what = "The host name could not be resolved" if kind == "dns" else "Could not connect to the server"
            return FetchResult(url, error=f"{what} ({_first_line(exc)})", error_kind=kind)
        except httpx.TooManyRedirects:
            return FetchResult(url, error="Too many redirects (more than 5)", error_kind="protocol")
        except (httpx.DecodingError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            return FetchResult(url, error=f"The server sent a broken response ({_first_line(exc)})", error_kind="protocol")
        except httpx.UnsupportedProtocol:
            return FetchResult(url, error="Only http:// and https:// feed URLs can be fetched", error_kind="protocol")
        except httpx.InvalidURL as exc:
            return FetchResult(url, error=f"Invalid URL ({_first_line(exc)})", error_kind="protocol")
        except httpx.HTTPError as exc:
            return FetchResult(url, error=f"HTTP error ({_first_line(exc)})", error_kind="protocol")

    def _describe(self, url: str, response: httpx.Response) -> FetchResult:
        moved_to = None
        if response.history and all(r.status_code in _PERMANENT for r in response.history):
            moved_to = str(response.url)
        h = response.headers
        return FetchResult(
            url=url,
            status=response.status_code,
            content_type=h.get("content-type"),
            etag=h.get("etag"),
            last_modified=h.get("last-modified"),
            moved_to=moved_to,
            retry_after_seconds=parse_retry_after(h.get("retry-after")) if response.status_code in (429, 503) else None,
            max_age_seconds=parse_max_age(h.get("cache-control")),
            headers={k.lower(): v for k, v in h.items()},
        )

    def _too_large(self, result: FetchResult) -> FetchResult:
        result.body = b""
        result.error = f"The feed is larger than the {self.max_body_bytes // (1024 * 1024) or 1} MB limit (FOLLOWUP_MAX_BODY_BYTES)"
        result.error_kind = "too_large"
        return result


def fetch_once(url: str, settings) -> FetchResult:  # noqa: ANN001 - service.config.Settings
    """One GET outside a poll (adding a feed, reading an article), with the poller's limits; blocks, so call
    it from synchronous code (a CLI command, an API endpoint running in FastAPI's thread pool)."""

    async def get() -> FetchResult:
        async with Fetcher(timeout=settings.fetch_timeout_seconds, max_body_bytes=settings.max_body_bytes,
                           allow_private_hosts=settings.allow_private_hosts) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(get())


def _is_dns_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "name or service not known" in text or "nodename nor servname" in text or "temporary failure in name resolution" in text or "name resolution" in text


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _status_sentence(status: int, reason: str) -> str:
    if status == 404:
        return "The feed was not found (HTTP 404)"
    if status == 410:
        return "The feed is gone for good (HTTP 410)"
    if status in (401, 403):
        return f"The server refused access to the feed (HTTP {status})"
    if status == 429:
        return "The server asked us to slow down (HTTP 429)"
    if status >= 500:
        return f"The server had an error (HTTP {status} {reason})".strip()
    return f"Unexpected HTTP status {status} {reason}".strip()
