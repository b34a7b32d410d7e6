"""A fast path for the most common feed shape, plain RSS 2.0, giving exactly what feedparser gives. No I/O.

feedparser stays the reference parser (parse.py). `parse_rss_fast` reads a document only when it is sure
the result is the one feedparser would produce, field for field, and returns None otherwise, so the caller
falls back to feedparser. What it replaces is only feedparser's Python SAX event loop (most of its time on
news feeds); everything with subtle rules is feedparser's own code, called the way feedparser calls it:
encoding detection (`convert_to_utf8`), dates (`_parse_date`), URL joining (`_urljoin`), and the last
clean-ups of `mixin.pop`. Neither path sanitizes HTML or resolves relative URIs inside it (parse.py says
why): only plain text is stored.

"Sure" means (anything else is doubt, and doubt means None):
- feedparser's encoding detection finds an encoding (a warning from it, such as a missing
  Content-Type, is kept as feedparser keeps it);
- the document is well-formed for lxml, with no DOCTYPE, no entity declarations, no xml:base/xml:lang;
- the root is `<rss version="2.0">` without a namespace, with one `<channel>`;
- every element is either one whose effect on the stored fields is mirrored here (below), or one
  feedparser has no rule for and stores under a key Followup never reads; a repeated field, an
  attribute on a text field, or markup nested in a text field is doubt.
tests/feeds/test_fastparse.py checks the equality of the stored results on every file of
../shared/data/feeds and of feedparser's own test corpus; docs/performance.md has the measured gain.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from .parse import ParsedEntry, ParsedFeed, _describe_bozo, _first_text, _ttl, _utc

log = logging.getLogger("followup.parse")

# Elements by the name feedparser dispatches them under ("dc_creator", "media_content", "link" for both
# <link> and <atom:link>, …) and the field they fill. None: the element touches nothing Followup reads.
_ITEM = {
    "title": "title", "link": "link", "description": "description", "guid": "guid", "pubdate": "published",
    "author": "author", "dc_creator": "author", "dc_date": "updated", "content_encoded": "content",
    "category": None, "comments": None, "enclosure": None, "source": None, "dc_subject": None,
    "media_content": None, "media_thumbnail": None, "media_credit": None,
}
# Children allowed inside those (media:content may hold thumbnails and credits; a media:title or
# media:description would become the entry's title or summary in feedparser: doubt).
_NESTED = {"media_content": {"media_thumbnail", "media_credit"}}
_CHANNEL = {
    "title": "title", "link": "link", "language": "language", "ttl": "ttl",
    "description": None, "lastbuilddate": None, "pubdate": None, "generator": None, "docs": None,
    "copyright": None, "managingeditor": None, "webmaster": None, "category": None, "image": None,
    "cloud": None, "rating": None, "skiphours": None, "skipdays": None,
}
_CHANNEL_NESTED = {"image": {"url", "title", "link", "width", "height", "description"},
                   "skiphours": {"hour"}, "skipdays": {"day"}}
# Text fields whose attributes would change how feedparser reads them (type=, mode=, href=, …).
_NO_ATTRIBUTES = {"title", "link", "description", "published", "updated", "author", "content", "language", "ttl"}
# Keys of feedparser's result that Followup reads: an unknown element that feedparser would store under
# one of these names (it stores unknown elements under their own name) is doubt.
_READ_KEYS = {"id", "link", "links", "title", "title_detail", "summary", "summary_detail", "content", "author",
              "published", "published_parsed", "updated", "updated_parsed", "created", "created_parsed",
              "language", "guidislink", "ttl", "subtitle", "image", "textinput", "source", "authors"}
_NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True, strip_cdata=True)
_ENTITY_IN_LINK = re.compile("&([A-Za-z0-9_]+);")


class _Doubt(Exception):
    """The document is outside what this path is sure about: feedparser reads it."""


def _name(el) -> str:  # noqa: ANN001 - lxml element
    """The name feedparser's strict parser dispatches this element under (parsers/strict.py, mixin.py)."""
    tag = el.tag
    if not isinstance(tag, str):
        raise _Doubt
    if tag[0] != "{":
        return tag.lower()
    uri, local = tag[1:].split("}", 1)
    uri = uri.lower()
    if "backend.userland.com/rss" in uri:
        uri = "http://backend.userland.com/rss"
    prefix = _NAMESPACES.get(uri)
    if prefix is None:  # a namespace feedparser does not know: it goes by the document's own prefix
        if not el.prefix:
            raise _Doubt
        prefix = el.prefix.lower()
    return f"{prefix}_{local.lower()}" if prefix else local.lower()


def _harmless(el, name: str) -> bool:  # noqa: ANN001
    """An element feedparser has no handler for and stores under a key Followup never reads."""
    if len(el) or name in _READ_KEYS or ":" in name:
        return False
    return not (hasattr(StrictFeedParser, "_start_" + name) or hasattr(StrictFeedParser, "_end_" + name))


def _text(el) -> str:  # noqa: ANN001
    """An element's own text, stripped (mixin.pop); nested markup is doubt."""
    if len(el):
        raise _Doubt
    return (el.text or "").strip()


def _finish(value: str) -> str:
    """The last two steps of feedparser's mixin.pop for a document read as UTF-8."""
    try:
        value = value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.translate(_cp1252)


def _uri(value: str, base: str) -> str:
    return _finish(_urljoin(base, value) if value else value)


def _attrs_ok(el, field: str | None) -> None:  # noqa: ANN001
    """No attributes on text fields; nowhere an xml:base/xml:lang (or base/lang), which feedparser honours."""
    if not len(el.attrib):
        return
    if field in _NO_ATTRIBUTES:
        raise _Doubt
    for key in el.attrib:
        if key.rsplit("}", 1)[-1].lower() in ("base", "lang"):
            raise _Doubt


def _check_subtree(el, allowed: set[str]) -> None:  # noqa: ANN001
    for child in el:
        if _name(child) not in allowed:
            raise _Doubt
        _attrs_ok(child, None)
        _check_subtree(child, set())


def parse_rss_fast(body: bytes, content_type: str | None = None, url: str | None = None) -> ParsedFeed | None:
    """The feed, or None when feedparser must read this document (see the module docstring)."""
    headers = {}  # exactly what parse_feed hands feedparser
    if content_type:
        headers["content-type"] = content_type
    if url:
        headers["content-location"] = url
    result: dict = {"bozo": False}
    try:
        data = convert_to_utf8(headers, body, result)
    except Exception:  # noqa: BLE001 - whatever feedparser's detection trips on is feedparser's to report
        return None
    if not result.get("encoding"):
        return None
    try:
        root = etree.fromstring(data, _PARSER)
        # feedparser rewrites DOCTYPEs and their entities (replace_doctype): its business. lxml reports one
        # wherever it stands, after any comment.
        if root.getroottree().docinfo.doctype:
            return None
        feed = _read(root, make_safe_absolute_uri("", url) if url else "")
    except (etree.XMLSyntaxError, ValueError, _Doubt):
        return None
    except Exception:  # noqa: BLE001 - a bug here must cost speed, never the feed: feedparser reads it
        log.warning("fast parse path failed; feedparser reads this document", exc_info=True, extra={"feed_url": url})
        return None
    # A warning from the encoding stage (a missing or non-XML Content-Type, a charset override) is kept,
    # as feedparser keeps it when its strict parser then succeeds.
    return replace(feed, warning=_describe_bozo(result.get("bozo_exception"))) if result.get("bozo") else feed


def _read(root, base: str) -> ParsedFeed:  # noqa: ANN001
    if root.tag != "rss" or root.get("version") != "2.0" or set(root.attrib) != {"version"}:
        raise _Doubt
    channels = list(root)
    if len(channels) != 1 or _name(channels[0]) != "channel" or channels[0].attrib:
        raise _Doubt
    feed: dict[str, str] = {}
    items = []
    for el in channels[0]:
        name = _name(el)
        if name == "item":
            if el.attrib:
                raise _Doubt
            items.append(el)
            continue
        field = _field(el, name, _CHANNEL, _CHANNEL_NESTED, feed)
        if field is None:
            continue
        value = _text(el)
        if field == "link":
            value = _ENTITY_IN_LINK.sub(r"&\g<1>", _uri(value, base))
        else:
            value = _finish(value)
        feed[field] = value
    language = feed.get("language") or None
    entries = [_entry(item, base, language) for item in items]
    return ParsedFeed(title=feed.get("title") or None, site_url=feed.get("link") or None, language=language,
                      ttl_minutes=_ttl(feed), entries=entries, warning=None)


def _field(el, name: str, table: dict, nested: dict, seen) -> str | None:  # noqa: ANN001
    """The field a child of <channel> or <item> fills, to be read; None for one that fills nothing Followup
    stores (checked on the way). Anything else is doubt, and so is a field seen twice: feedparser's rules
    for repeats differ per field (first title, last link, …)."""
    if name == "link" and el.attrib:
        _link_element(el)
        return None
    if name not in table:
        if not _harmless(el, name):
            raise _Doubt
        _attrs_ok(el, None)
        return None
    field = table[name]
    _attrs_ok(el, field)
    if field is None:
        _check_subtree(el, nested.get(name, set()))
        return None
    if field in seen:
        raise _Doubt
    return field


def _link_element(el) -> None:  # noqa: ANN001
    """An Atom-style <link href=… rel=…/>: harmless unless it is the alternate (feedparser would take its
    href as the link) or has no href (feedparser would read its text)."""
    attrs = {k.lower(): v for k, v in el.attrib.items()}
    if len(attrs) != len(el.attrib) or len(el) or not (attrs.get("href") or attrs.get("url") or attrs.get("uri")):
        raise _Doubt
    if attrs.get("rel", "alternate").lower() == "alternate":
        raise _Doubt
    _attrs_ok(el, None)


def _entry(item, base: str, feed_language: str | None) -> ParsedEntry:  # noqa: ANN001
    raw: dict = {}
    guid_is_link = False
    for el in item:
        field = _field(el, _name(el), _ITEM, _NESTED, raw)
        if field is None:
            continue
        value = _text(el)
        if field == "guid":
            flags = [v for k, v in el.attrib.items() if k.lower() == "ispermalink"]
            if len(flags) > 1:
                raise _Doubt
            guid_is_link = (flags[0] if flags else "true") == "true"
            raw["guid"] = _uri(value, base) if guid_is_link else _finish(value)
        elif field == "link":
            raw["link"] = _ENTITY_IN_LINK.sub(r"&\g<1>", _uri(value, base).replace("&amp;", "&"))
        else:
            raw[field] = _finish(value)
    link = raw.get("link")
    if link is None and guid_is_link and "guid" in raw:
        link = raw["guid"]  # feedparser: a permalink GUID stands in for a missing <link>
    summary = raw.get("description") or raw.get("content") or ""
    published = _parse_date(raw["published"]) if raw.get("published") else None
    updated = _parse_date(raw["updated"]) if raw.get("updated") else None
    return ParsedEntry(
        guid=raw.get("guid") or None,
        link=link or None,
        title=_first_text(raw.get("title")),
        summary=summary,
        author=raw.get("author") or None,
        published=_utc(published or updated),
        language=feed_language,
    )
