"""Bytes (+ the response's content type) -> plain dataclasses, with feedparser as the reference parser. No I/O."""

from __future__ import annotations

import calendar
import json
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
    # Title and summary may contain HTML, as the feed sent it; only their plain text (normalize.plain_text)
    # is stored.
    title: str
    summary: str
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


def parse_feed(body: bytes, content_type: str | None = None, url: str | None = None, *,
               fast: bool = True) -> ParsedFeed:
    """Parse a feed document. Raises ParseError only when nothing feed-like could be read.

    Plain RSS 2.0 documents take the fast path (fastparse.py, lxml) when it is sure of giving what
    feedparser gives for every stored field; everything else, and `fast=False`, goes to feedparser.
    """
    if _looks_like_json(body, content_type):
        return parse_json_feed(body)
    if fast:
        from .fastparse import parse_rss_fast

        parsed = parse_rss_fast(body, content_type, url)
        if parsed is not None:
            return parsed
    return parse_with_feedparser(body, content_type, url)


def parse_with_feedparser(body: bytes, content_type: str | None = None, url: str | None = None) -> ParsedFeed:
    """The reference path. The bytes go to feedparser together with the response's Content-Type, so a
    charset given by the server is honoured (PITFALLS.md: without it windows-1252 bytes were mis-detected).
    """
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if url:
        headers["content-location"] = url
    # No sanitizing and no resolving of relative URIs inside HTML: only plain text is stored (normalize.plain_text
    # drops every tag, script and style), and both passes ran feedparser's sgmllib tokenizer, which is
    # quadratic on unclosed comments: a summary of 40,000 "<!--" took 5-9 s to parse (docs/security.md row 21).
    result = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    feed = result.get("feed", {})
    raw_entries = result.get("entries", [])
    warning = None
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        warning = _describe_bozo(exc)
        if not raw_entries and not result.get("version") and not feed.get("title"):
            raise ParseError(f"Not a readable feed: {warning}")
    if not raw_entries and not result.get("version") and (not feed or _HTML.search(body[:2048])):
        # An HTML page: feedparser keeps its text as a "summary", which made it look like an empty feed
        # once files stopped being flagged for their missing Content-Type.
        raise ParseError("Not a feed: no RSS, Atom, RDF or JSON Feed document found")

    feed_language = feed.get("language") or None
    entries = [
        ParsedEntry(
            guid=(raw.get("id") or None),
            link=(raw.get("link") or None),
            title=_first_text(raw.get("title")),
            summary=_entry_summary(raw),
            author=raw.get("author") or None,
            # dict.get skips FeedParserDict's deprecated published->updated fallback (and its warning)
            published=_utc(dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")
                           or dict.get(raw, "created_parsed")),
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


_HTML = re.compile(rb"<(!doctype\s+html|html[\s>])", re.I)


def _describe_bozo(exc) -> str:  # noqa: ANN001
    if exc is None:
        return "the document is not well-formed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the document is not well-formed ({text})"


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    """The body decides, the header only breaks a tie: servers label RSS application/json and JSON
    text/plain."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    if head.startswith(b"<"):
        return False
    return bool(content_type and "json" in content_type.lower())


def _json_date(value) -> datetime | None:  # noqa: ANN001
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        return None


def _text(value) -> str | None:  # noqa: ANN001
    """A JSON value that should be a string: numbers become text, objects and lists are dropped."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def parse_json_feed(body: bytes) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (jsonfeed.org), which feedparser 6.0 does not read. Only plain text leaves
    this project (normalize strips HTML), so content_html needs no sanitizing here."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"Not a readable JSON Feed: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError("Not a JSON Feed: no list of items")
    version = str(data.get("version", ""))
    warning = None if "jsonfeed.org" in version else "the document does not declare a JSON Feed version"
    language = _text(data.get("language"))
    entries = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") if isinstance(item.get("authors"), list) else []
        authors = authors or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = next((_text(a.get("name")) for a in authors if isinstance(a, dict) and _text(a.get("name"))), None)
        guid = _text(item.get("id"))
        entries.append(ParsedEntry(
            guid=guid or None,
            link=_text(item.get("url")) or _text(item.get("external_url")) or None,
            title=_first_text(item.get("title")),
            summary=_first_text(item.get("summary"), item.get("content_text"), item.get("content_html")),
            author=author,
            published=_json_date(item.get("date_published")) or _json_date(item.get("date_modified")),
            language=_text(item.get("language")) or language,
        ))
    return ParsedFeed(title=_text(data.get("title")) or None, site_url=_text(data.get("home_page_url")) or None,
                      language=language, ttl_minutes=None, entries=entries, warning=warning)
