"""Render a Digest as text, Markdown, HTML or JSON, from Jinja2 templates (service/digest/templates).

Feed text is untrusted: HTML templates autoescape everything; Markdown escapes the characters that
would make markup (a raw "<script>" in a Markdown file is live HTML in most renderers); URLs are only
ever linked if they are http(s).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .build import Digest

FORMATS = ("text", "markdown", "html", "json")
_TEMPLATES = {"text": "digest.txt.j2", "markdown": "digest.md.j2", "html": "digest.html.j2"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(text: object) -> str:
    return _MD_SPECIAL.sub(r"\\\1", str(text or ""))


def md_url(url: object) -> str:
    """A link target for Markdown: http(s) only, with the characters that end a link encoded."""
    url = str(url or "")
    if not url.lower().startswith(("http://", "https://")):
        return "#"
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _safe_url(url: object) -> str | None:
    url = str(url or "")
    return url if url.lower().startswith(("http://", "https://")) else None


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("service.digest", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=StrictUndefined)
    env.filters["md"] = md_escape
    env.filters["mdurl"] = md_url
    return env


def render(digest: Digest, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown digest format {fmt!r}; use one of {', '.join(FORMATS)}")
    _drop_unsafe_links(digest)
    if fmt == "json":
        return json.dumps(digest.to_dict(), ensure_ascii=False, indent=2) + "\n"
    return environment().get_template(_TEMPLATES[fmt]).render(d=digest)


def _drop_unsafe_links(digest: Digest) -> None:
    """A feed's "javascript:" or "data:" link never becomes a link in a digest."""
    for section in digest.sections:
        for item in section.new + section.continuing:
            for link in item.links:
                link.url = _safe_url(link.url)
