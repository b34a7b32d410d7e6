"""OPML in and out (the feed-list format every reader speaks). Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from ..errors import InvalidInputError


@dataclass(frozen=True)
class OutlineFeed:
    url: str
    title: str | None
    category: str | None = None


def parse_opml(data: bytes | str) -> list[OutlineFeed]:
    """Every outline with an xmlUrl, in document order, with its enclosing folder as the category."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInputError(f"This is not a readable OPML file ({exc})") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise InvalidInputError("This is not an OPML file: it has no <opml><body>")
    out: list[OutlineFeed] = []
    seen: set[str] = set()

    def walk(node: ET.Element, category: str | None) -> None:
        for child in node.findall("outline"):
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            title = child.get("title") or child.get("text")
            if url:
                if url not in seen:
                    seen.add(url)
                    out.append(OutlineFeed(url, title, category))
            else:
                walk(child, title or category)

    walk(body, None)
    return out


def render_opml(feeds: list[OutlineFeed], title: str = "Followup feeds", now: datetime | None = None) -> str:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(timezone.utc))
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.title:
            attrs["title"] = feed.title
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
