"""Feed discovery: given a site's page, find the feeds it advertises (<link rel="alternate">), the way
feed readers do. Given a feed URL, it is its own answer."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from ..errors import InvalidInputError

FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
              "application/rdf+xml", "text/xml", "application/xml"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a"):
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        if a.get("href") and "alternate" in rel and kind in FEED_TYPES:
            self.found.append((a["href"], a.get("title") or None))


def looks_like_feed(body: bytes, content_type: str | None) -> bool:
    head = body[:2048].lstrip().lower()
    ctype = (content_type or "").lower()
    if any(t in ctype for t in ("rss", "atom", "feed+json", "rdf")):
        return True
    if head.startswith(b"{") and b"jsonfeed.org" in body[:4096]:
        return True
    return head.startswith(b"<?xml") and any(m in body[:4096].lower() for m in (b"<rss", b"<feed", b"<rdf:rdf"))


def discover(page_url: str, body: bytes, content_type: str | None) -> list[tuple[str, str | None]]:
    """[(feed URL, title)] advertised by an HTML page, absolute, in page order, without duplicates."""
    parser = _Links()
    try:
        parser.feed(body.decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - a broken page simply advertises nothing
        return []
    seen, out = set(), []
    for href, title in parser.found:
        url = urljoin(page_url, href)
        if url.startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            out.append((url, title))
    return out


def check_feed_url(url: str) -> str:
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"{url!r} is not an http:// or https:// URL")
    return url.strip()
