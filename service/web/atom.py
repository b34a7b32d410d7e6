"""An Atom 1.0 feed of a topic's developments (one entry per development), for feed readers.

An entry's `updated` is its development's newest entry on the topic: unrelated news never moves it."""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape, quoteattr


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def topic_atom(*, topic, stories: list[dict], base_url: str, now: datetime) -> str:  # noqa: ANN001
    """`stories`: stories.view.load_stories output for the topic (topic_* fields present)."""
    updated = max((s["last_seen"] for s in stories), default=now)
    self_url = f"{base_url}/topics/{topic.slug}.atom"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<id>{escape(f'{base_url}/topics/{topic.slug}')}</id>",
        f"<title>{escape(f'Followup: {topic.name}')}</title>",
        f"<subtitle>{escape(f'New developments on {topic.slug}, one entry per development')}</subtitle>",
        f"<updated>{_iso(updated)}</updated>",
        f"<link rel=\"self\" type=\"application/atom+xml\" href={quoteattr(self_url)}/>",
        f"<link rel=\"alternate\" type=\"text/html\" href={quoteattr(f'{base_url}/topics/{topic.slug}')}/>",
        "<author><name>Followup</name></author>",
        "<generator>Followup</generator>",
    ]
    for s in stories:
        on_topic = s["entries"]
        urls = [s.get("headline_url")] + [e["url"] for e in on_topic]  # the report that heads it, else the first
        link = next((u for u in urls if u and u.startswith(("http://", "https://"))), None)
        outlets = sorted({e["feed"] or "?" for e in on_topic})
        items = "".join(f"<li><a href={quoteattr(e['url'])}>{escape(e['feed'] or '?')}</a>: {escape(e['title'])}</li>"
                        if e["url"] and e["url"].startswith(("http://", "https://"))
                        else f"<li>{escape(e['feed'] or '?')}: {escape(e['title'])}</li>" for e in on_topic[:20])
        days = "".join(f"<li>{line['day']:%Y-%m-%d}: {escape(line['headline'] or '')} ({line['entries']})</li>"
                       for line in s.get("days", []))
        content = (f"<p>Day by day:</p><ul>{days}</ul>" if days else "") + \
            f"<p>{len(outlets)} outlet{'s' if len(outlets) != 1 else ''} on {escape(topic.slug)}:</p><ul>{items}</ul>"
        parts += [
            "<entry>",
            f"<id>urn:followup:development:{escape(topic.slug)}:{s['id']}</id>",
            f"<title>{escape(s['topic_headline'])}</title>",
            f"<published>{_iso(s['topic_first_seen'])}</published>",
            f"<updated>{_iso(s['last_seen'])}</updated>",
            *([f"<link rel=\"alternate\" href={quoteattr(link)}/>"] if link else []),
            f"<summary>{escape(', '.join(outlets))}</summary>",
            f"<content type=\"html\">{escape(content)}</content>",
            "</entry>",
        ]
    parts.append("</feed>")
    return "\n".join(parts) + "\n"
