"""Stories and developments as people read them, with their entries. Shared by the CLI (`followup
stories`, `followup timeline`), the API, the web UI and the Atom feeds.

Seen from a topic, the unit is the topic's own *development* (its matched entries grouped by event,
service/stories/develop.py): headed by the report that says what most of its reports say (`headline_of`), dated by its entries, counted by the outlets that
covered it on the topic. Without a topic, the global stories (service/stories/cluster.py)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from ..db import Database
from ..errors import InvalidInputError
from ..store import developments as development_store
from ..store._sql import aware
from ..store import stories as story_store
from ..store import topics as topic_store
from .develop import day_lines, headline_of


def load_stories(db: Database, *, topic: str | None, since: datetime | None, until: datetime | None,
                 limit: int) -> list[dict]:
    """Stories (or, with `topic`, the topic's developments) active in [since, until), newest activity
    first; a development is *new* in the window when its first entry is inside it."""
    if since is not None and until is not None and aware(since) >= aware(until):
        raise InvalidInputError("The window is empty: since must be before until")
    if topic:
        return load_developments(db, topic, since=since, until=until, limit=limit)
    with db.read() as conn:
        rows = story_store.list_stories(conn, since=since, until=until, limit=limit)
        members = story_store.story_entries(conn, [r.id for r in rows])
    return [dict(id=r.id, headline=r.headline, first_seen=r.first_seen, last_seen=r.last_seen, outlets=r.source_count,
                 entry_count=r.entry_count, status="new" if since is None or r.first_seen >= since else "continuing",
                 entries=[dict(guid=e.guid, url=e.url, title=e.title, feed=e.feed, published=e.published_at)
                          for e in members.get(r.id, [])])
            for r in rows]


def load_developments(db: Database, topic: str, *, since: datetime | None, until: datetime | None,
                      limit: int) -> list[dict]:
    with db.read() as conn:
        row = topic_store.get_topic(conn, topic)
        developments = development_store.list_developments(conn, row.id, since=since, until=until, limit=limit)
        members = development_store.development_entries(conn, row.id, [d["id"] for d in developments])
    data = []
    for d in developments:
        status = "new" if since is None or d["first_seen"] >= since else "continuing"
        own = members.get(d["id"], [])
        head = headline_of(own)
        d["headline"] = head.title if head else ""
        data.append(dict(
            d, status=status, headline_url=head.url if head else None,
            # A development over several days names each day's report that says what most say (the acts a
            # flood's development holds: develop.day_lines).
            days=[dict(day=line.day, headline=line.head.title, url=line.head.url, entries=line.entries)
                  for line in day_lines(own) if _in_window(line.day, since, until)],
            # The names the topic views have always read (a development *is* the topic's view of an event).
            topic_headline=d["headline"], topic_first_seen=d["first_seen"], topic_entry_count=d["entry_count"],
            topic_outlets=d["outlets"],
            entries=[dict(id=e.id, guid=e.guid, url=e.url, title=e.title, feed=e.feed, published=e.published_at,
                          matched=True)
                     for e in members.get(d["id"], [])],
        ))
    return data


def _in_window(day, since: datetime | None, until: datetime | None) -> bool:  # noqa: ANN001
    """Whether a UTC day overlaps [since, until): a timeline asked up to 15 February lists no day line of
    the 16th, though a development that began before then goes on."""
    start = datetime.combine(day, time(), tzinfo=timezone.utc)
    return (until is None or start < aware(until)) and (since is None or start + timedelta(days=1) > aware(since))
