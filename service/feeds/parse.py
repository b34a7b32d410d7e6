"""Bytes (+ the response's content type) -> plain dataclasses, with feedparser as the reference parser. No I/O."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import feedparser

from ..errors import FollowupError


class ParseError(FollowupError):
    """The body is not a feed we can read anything from."""


@dataclass(frozen=True)
class ParsedEntry:
    guid: str | None
    link: str | None
    title: str  # may contain HTML (feedparser-sanitized)
    summary: str  # may contain HTML (feedparser-sanitized)
    author: str | None
    published: datetime | None  # UTC
    language: str | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    site_url: str | None
    language: str | None
    ttl_minutes: int | None
    entries: list[ParsedEntry] = field(default_factory=list)
    # feedparser read the document but it was not well-formed (its "bozo" flag).
    warning: str | None = None


def _utc(struct) -> datetime | None:  # noqa: ANN001 - time.struct_time from feedparser
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def _first_text(*values) -> str:  # noqa: ANN002
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _entry_summary(raw) -> str:  # noqa: ANN001
    summary = raw.get("summary")
    if summary:
        return summary
    for content in raw.get("content") or ():
        if content.get("value"):
            return content["value"]
    return ""


def _ttl(feed) -> int | None:  # noqa: ANN001
    value = feed.get("ttl")
    if value and re.fullmatch(r"\s*\d{1,6}\s*", str(value)):
        return int(value)
    return None


def parse_feed(body: bytes, content_type: str | None = None, url: str | None = None) -> ParsedFeed:
    """Parse a feed document. Raises ParseError only when nothing feed-like could be read.

    The bytes go to feedparser together with the response's Content-Type, so a charset given by the
    server is honoured (PITFALLS.md: without it windows-1252 bytes were mis-detected).
    """
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if url:
        headers["content-location"] = url
    result = feedparser.parse(body, response_headers=headers)
    feed = result.get("feed", {})
    raw_entries = result.get("entries", [])
    warning = None
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        warning = _describe_bozo(exc)
        if not raw_entries and not result.get("version") and not feed.get("title"):
            raise ParseError(f"Not a readable feed: {warning}")
    if not raw_entries and not result.get("version") and not feed:
        raise ParseError("Not a feed: no RSS, Atom, RDF or JSON Feed document found")

    feed_language = feed.get("language") or None
    entries = [
        ParsedEntry(
            guid=(raw.get("id") or None),
            link=(raw.get("link") or None),
            title=_first_text(raw.get("title")),
            summary=_entry_summary(raw),
            author=raw.get("author") or None,
            published=_utc(raw.get("published_parsed") or raw.get("updated_parsed") or raw.get("created_parsed")),
            language=(raw.get("language") or (raw.get("title_detail") or {}).get("language") or feed_language),
        )
        for raw in raw_entries
    ]
    return ParsedFeed(
        title=feed.get("title") or None,
        site_url=feed.get("link") or None,
        language=feed_language,
        ttl_minutes=_ttl(feed),
        entries=entries,
        warning=warning,
    )


def _describe_bozo(exc) -> str:  # noqa: ANN001
    if exc is None:
        return "the document is not well-formed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the document is not well-formed ({text})"
