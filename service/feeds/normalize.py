"""Canonical URLs, entry identity, plain text, UTC times: parsed entries -> storable entries. Pure."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import etree

from ..topics.text import words
from .parse import ParsedEntry, ParsedFeed

# Query parameters that only track the reader; dropping them lets the same article from two feeds
# (or two campaigns) collapse into one entry.
_TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi",
    "cmpid", "ocid", "ito", "smid", "partner", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
    "ns_fee", "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    "rss", "rssfeed", "taid", "feedtype", "cid", "xtor", "ref", "ref_src",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A published time this far beyond the fetch time is a feed bug; such entries would sit on top forever.
_FUTURE_TOLERANCE = timedelta(days=1)
_WS = re.compile(r"\s+")
_URL_LIKE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF): stored
# once from a feed, one U+0001 made every Atom feed and digest page with that entry invalid.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str | None) -> str | None:
    """The text without XML-illegal characters (None stays None)."""
    return _XML_ILLEGAL.sub("", value) if value else value


@dataclass(frozen=True)
class NormalizedEntry:
    identity: str
    guid: str | None
    url: str | None
    title: str
    summary: str
    author: str | None
    language: str | None
    published_at: datetime
    content_hash: str
    # The publisher and the headline, hashed: a syndicated copy of an article (the same headline from the
    # same publisher under another URL, e.g. through a second feed of that publisher) has the same key.
    title_key: str | None = None


# Second-level labels under a country code that are not the publisher's own ("yna.co.kr", "bbc.co.uk").
_GENERIC_SECOND_LEVEL = {"co", "com", "ac", "or", "ne", "go", "gov", "org", "net", "edu", "gob", "nic"}
# An outlet's suffix (" - Reuters", " | FT"). The look-behind starts a match only where a run of spaces starts:
# without it, each position inside a long run was tried to the run's end, and a headline of 40,000 spaces
# and no-break spaces took 8 s (stored titles have their spaces collapsed, but nothing else needs them to be).
_OUTLET_SUFFIX = re.compile(r"(?<!\s)\s+[-|–—]\s+[^-|–—]{2,40}$")


def publisher(url: str | None) -> str | None:
    """The publisher's domain for an article URL: every site of one publisher ("en.yna.co.kr",
    "m-en.yna.co.kr", "www.yna.co.kr") is "yna.co.kr". An approximation of the registrable domain that
    needs no public-suffix list; an IP address is its own publisher."""
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return None
    labels = host.rstrip(".").split(".")
    if not host or host.replace(".", "").isdigit() or ":" in host:
        return host or None
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def headline(title: str | None) -> str:
    """A headline's words, folded, an outlet's suffix (" - Reuters") removed: what two copies of one
    headline share (the entry's title key here, a story's or development's same-headline join)."""
    return " ".join(words(_OUTLET_SUFFIX.sub("", title or "")))


def title_key(url: str | None, title: str) -> str | None:
    """sha256 of publisher and headline (its words, an outlet suffix removed), for headlines of at least
    four words; None otherwise ("Live updates" names no one article)."""
    host = publisher(url)
    headline_ = headline(title)
    if not host or len(headline_.split()) < 4:
        return None
    return _sha256(f"{host}\n{headline_}")[:32]


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, drop default ports, fragments and tracking parameters."""
    if not url:
        return None
    url = xml_safe(url).strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith("utm_")
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


# Elements whose content is not text a reader sees (feedparser's sanitizer dropped script, style and applet
# with their content; noscript and template hold fallbacks and inert markup).
_SKIP = frozenset({"script", "style", "template", "noscript", "applet"})
# Tags that break a line in a browser: a space at each, so "<p>one</p><p>two</p>" is "one two" — also after a
# stray end tag, which the HTML parser drops ("intro</p>more" is "intro more"; str.replace, not a regex with a
# group: a hostile summary of a million tags made the regex's pieces cost hundreds of MB).
_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section"})
_BLOCK_ENDS = tuple(f"</{name}>" for name in sorted(_BLOCK - {"br"})) + tuple(f"</{name.upper()}>" for name in sorted(_BLOCK - {"br"}))
# Elements whose content the HTML standard (and libxml2) reads as raw text, not markup, where Python's HTMLParser
# read markup: their text ("See the Pen <a href=…>…</a> on CodePen" inside an embed's <iframe>) is read as HTML
# once more, one level deep.
_RAW_TEXT = frozenset({"iframe", "noembed", "noframes", "xmp", "plaintext"})
_ANY_TAG = re.compile(r"<[^<>]*>")  # linear: each attempt stops at the next "<"
# libxml2 drops text after the end of the document; a summary's "</html>" ends nothing here.
_DOCUMENT_ENDS = ("</html>", "</body>", "</HTML>", "</BODY>")


class _Pieces:
    """Text gathered piece by piece; every 4,096 pieces are joined (a million one-letter pieces cost far more
    memory than their text)."""

    def __init__(self) -> None:
        self.joined: list[str] = []
        self.pieces: list[str] = []

    def append(self, text: str) -> None:
        self.pieces.append(text)
        if len(self.pieces) >= 4096:
            self.joined.append("".join(self.pieces))
            self.pieces.clear()

    def text(self) -> str:
        return "".join(self.joined) + "".join(self.pieces)

    def __bool__(self) -> bool:
        return bool(self.joined or self.pieces)


class _Text:
    """A target for libxml2's HTML parser: the text as it streams past, no tree built (a 10 MB summary of
    "<p>x" held 900 MB as a tree, 73 MB this way)."""

    def __init__(self, nested: bool) -> None:
        self.parts = _Pieces()
        self.skipping = 0  # inside script, style, …
        self.raw: _Pieces | None = None  # the text of an <iframe> (or another raw-text element), read again
        self.raw_depth = 0
        self.nested = nested

    def start(self, tag, attrib) -> None:  # noqa: ANN001
        tag = tag.lower() if isinstance(tag, str) else tag
        if tag in _BLOCK and not self.skipping:
            self.parts.append(" ")
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _RAW_TEXT and not self.nested and not self.skipping:
            self.raw_depth += 1
            if self.raw is None:
                self.raw = _Pieces()

    def end(self, tag) -> None:  # noqa: ANN001
        tag = tag.lower() if isinstance(tag, str) else tag
        if tag in _BLOCK and not self.skipping:
            self.parts.append(" ")
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _RAW_TEXT and self.raw is not None and self.raw_depth:
            self.raw_depth -= 1
            if not self.raw_depth:
                raw, self.raw = self.raw.text(), None
                self.parts.append(_html_text(raw, nested=True) if "<" in raw else raw)

    def data(self, text: str) -> None:
        if not self.skipping:
            (self.raw if self.raw is not None else self.parts).append(text)

    def comment(self, text: str) -> None:
        pass

    def close(self) -> str:
        if self.raw:  # an unclosed raw-text element: its text as it is
            self.parts.append(self.raw.text())
        return self.parts.text()


def _html_text(value: str, *, nested: bool = False) -> str:
    """The text of an HTML fragment, with libxml2's HTML parser (lxml): linear in the input, whatever it
    holds (docs/security.md row 20: Python's HTMLParser rescans to the end from each "<" that opens no
    complete tag, and feedparser's sanitizer did the same on unclosed comments; both are quadratic)."""
    last = value.rfind(">")
    if "<" in value[last + 1:]:  # a "<" with no ">" after it opens no tag: text ("costs<revenue")
        value = value[:last + 1] + value[last + 1:].replace("<", "&lt;")
    for end in _BLOCK_ENDS:
        if end in value:
            value = value.replace(end, end + " ")
    for end in _DOCUMENT_ENDS:
        if end in value:
            value = value.replace(end, " ")
    parser = etree.HTMLParser(target=_Text(nested), encoding="utf-8", recover=True, no_network=True,
                              remove_comments=True, remove_pis=True, huge_tree=True, default_doctype=False)
    try:
        text = etree.fromstring(value.encode("utf-8"), parser)
    except etree.LxmlError:  # nothing the parser keeps ("<!-- -->" is an empty document)
        text = None
    if text is None or parser.error_log.filter_from_fatals():  # or a limit hit (nesting 2,048 deep) stopped it
        return _ANY_TAG.sub(" ", value)  # no text lost: tags cut, in linear time
    return text


def plain_text(value: str | None) -> str:
    """HTML -> one line of plain text: tags stripped, entities decoded, whitespace folded."""
    if not value:
        return ""
    value = xml_safe(value)
    if "<" in value:
        value = _html_text(value)
    # A second unescape catches double-escaped feeds ("&amp;amp;") that are common in the wild.
    value = html.unescape(html.unescape(value)) if "&" in value else value
    return _WS.sub(" ", value).strip()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def entry_identity(guid: str | None, link: str | None, title: str, summary: str, feed_url: str) -> str:
    """GUID -> canonical link -> content hash, as one sha256 hex digest unique across all feeds.

    A URL-shaped or long GUID is globally unique in practice, so the same article seen through two
    feeds collapses into one entry. Short opaque GUIDs ("1234") are only unique within their feed,
    so they are scoped by the feed URL.
    """
    if guid and guid.strip():
        guid = guid.strip()
        if _URL_LIKE.match(guid):
            return _sha256("guid:" + (canonical_url(guid) or guid))
        if len(guid) >= 16:
            return _sha256("guid:" + guid)
        return _sha256(f"guid:{feed_url}#{guid}")
    if link and link.strip():
        return _sha256("url:" + (canonical_url(link) or link))
    return _sha256(f"hash:{title}\n{summary}")


def normalize_entry(entry: ParsedEntry, feed: ParsedFeed, feed_url: str, fetched_at: datetime) -> NormalizedEntry:
    title = plain_text(entry.title)
    summary = plain_text(entry.summary)
    url = canonical_url(entry.link)
    published = entry.published or fetched_at
    if published > fetched_at + _FUTURE_TOLERANCE:
        published = fetched_at
    language = (entry.language or feed.language or None)
    return NormalizedEntry(
        identity=entry_identity(entry.guid, entry.link, title, summary, feed_url),
        guid=xml_safe(entry.guid),
        url=url,
        title=title,
        summary=summary,
        author=plain_text(entry.author) or None,
        language=language.strip().lower()[:35] if language and language.strip() else None,
        published_at=published,
        content_hash=_sha256(f"{title}\n{summary}"),
        title_key=title_key(url, title),
    )


def normalize_feed(feed: ParsedFeed, feed_url: str, fetched_at: datetime) -> list[NormalizedEntry]:
    """Normalize every entry; within one document the first copy of an identity wins."""
    seen: set[str] = set()
    out: list[NormalizedEntry] = []
    for entry in feed.entries:
        normalized = normalize_entry(entry, feed, feed_url, fetched_at)
        if normalized.identity not in seen:
            seen.add(normalized.identity)
            out.append(normalized)
    return out
