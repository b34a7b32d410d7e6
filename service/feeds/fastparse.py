"""A fast path for the most common feed shape, plain RSS 2.0, giving exactly what feedparser gives. No I/O.

feedparser stays the reference parser (parse.py). `parse_rss_fast` reads a document only when it is sure
the result is the one feedparser would produce, field for field, and returns None otherwise, so the caller
falls back to feedparser. What it replaces is only feedparser's Python SAX event loop (most of its time on
news feeds); everything with subtle rules is feedparser's own code, called the way feedparser calls it:
encoding detection (`convert_to_utf8`), dates (`_parse_date`), URL joining (`_urljoin`), HTML detection
(`looks_like_html`), relative-URI resolution and HTML sanitizing, and the last clean-ups of `mixin.pop`.

"Sure" means (anything else is doubt, and doubt means None):
- feedparser's encoding detection finds an encoding (a warning from it, such as a missing
  Content-Type, is kept as feedparser keeps it);
- the document is well-formed for lxml, with no DOCTYPE, no entity declarations, no xml:base/xml:lang;
- the root is `<rss version="2.0">` without a namespace, with one `<channel>`;
- every element is either one whose effect on the stored fields is mirrored here (below), or one
  feedparser has no rule for and stores under a key Followup never reads; a repeated field, an
  attribute on a text field, or markup nested in a text field is doubt.
An entry's title and summary keep their HTML unsanitized when feedparser's sanitizer could not change
their text (see `_entry_html`): only their plain text is stored. The feed's own title, stored as given,
always gets feedparser's full treatment. tests/feeds/test_fastparse.py checks the equality of the
stored results on every file of ../shared/data/feeds and of feedparser's own test corpus;
docs/performance.md has the measured gain.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from html.entities import html5

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris
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
_looks_like_html = _FeedParserMixin.looks_like_html
# Where feedparser's sanitizer and normalize.plain_text could disagree on the text: elements whose content
# the sanitizer drops or keeps differently (script and style: it drops their text but lets their "&"s
# through; applet; noscript and template, which plain_text drops; embedded SVG/MathML; raw-text elements),
# comments, declarations and processing instructions, SGML's empty tags "<>" and "</>", and named entities
# HTML does not define (the sanitizer rewrites "&foo;" to "&foo"). Each was found or reasoned from
# feedparser's sanitizer; tests/feeds/test_fastparse.py holds the examples.
_RISKY = re.compile(r"<\s*/?\s*(?:script|style|applet|noscript|template|svg|math|object|embed|iframe|frame|"
                    r"frameset|xmp|plaintext|textarea|title|listing|noembed|noframes)\b|<[!?]|</?>", re.I)
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_HTML_ENTITIES = frozenset(name.rstrip(";") for name in html5) | {"apos"}
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


def _html(value: str, base: str) -> str:
    """Content feedparser treats as HTML: relative URIs resolved, then sanitized — with feedparser's own
    functions. On text with no '<' and no '&' both are the identity, and are skipped."""
    if value and ("<" in value or "&" in value):
        value = resolve_relative_uris(value, base, "utf-8", "text/html")
        value = _sanitize_html(value, "utf-8", "text/html")
    return _finish(value)


def _entry_html(value: str, base: str) -> str:
    """An entry's title or summary: only its plain text is ever stored (normalize.plain_text), and for
    that text feedparser's URI resolution and sanitizing change nothing — measured on all 488,947 titles
    and descriptions of the 2023 corpus and every file of ../shared/data/feeds — except in the cases
    `_RISKY` names, which take feedparser's full treatment. So the HTML is left as it is."""
    if _RISKY.search(value) or any(name not in _HTML_ENTITIES for name in _NAMED_ENTITY.findall(value)):
        return _html(value, base)
    return _finish(value)


def _title(value: str, base: str) -> str:
    # RSS titles are nominally text/plain; feedparser guesses HTML (mixin.pop) and then treats them so.
    return _html(value, base) if _looks_like_html(value) else _finish(value)


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
        if field == "title":
            value = _title(value, base)
        elif field == "link":
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
        elif field in ("title", "description", "content"):
            raw[field] = _entry_html(value, base)
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
