"""Stories as people read them: a list with their entries, seen from a topic when one is given.
Shared by the CLI (`followup stories`, `followup timeline`), the API and the web UI."""

from __future__ import annotations

from datetime import datetime

from ..db import Database
from ..store import stories as story_store
from ..store import topics as topic_store


def load_stories(db: Database, *, topic: str | None, since: datetime | None, until: datetime | None,
                 limit: int) -> list[dict]:
    """Stories active in [since, until), newest activity first. With `topic`: only stories it matched,
    each headed by the topic's first report of it (the story's own first entry may be an earlier report
    the topic does not cover), with the outlets that covered it on the topic, and each entry's
    `matched`; a story is *new* in the window when the topic first matched it inside the window."""
    with db.read() as conn:
        if topic:
            topic_store.get_topic(conn, topic)
        rows = story_store.list_stories(conn, topic=topic, since=since, until=until, limit=limit)
        members = story_store.story_entries(conn, [r.id for r in rows], topic)
    data = []
    for r in rows:
        own = members.get(r.id, [])
        on_topic = [e for e in own if e.matched]
        first = on_topic[0].published_at if on_topic else r.first_seen
        data.append(dict(
            id=r.id, headline=r.headline, first_seen=r.first_seen, last_seen=r.last_seen, outlets=r.source_count,
            entry_count=r.entry_count, status="new" if since is None or first >= since else "continuing",
            **({"topic_headline": on_topic[0].title if on_topic else r.headline, "topic_first_seen": first,
                "topic_entry_count": len(on_topic), "topic_outlets": len({e.feed for e in on_topic})} if topic else {}),
            entries=[dict(guid=e.guid, url=e.url, title=e.title, feed=e.feed, published=e.published_at,
                          **({"matched": bool(e.matched)} if topic else {})) for e in own],
        ))
    return data
