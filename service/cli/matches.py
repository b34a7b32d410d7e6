"""followup matches: what matched, newest first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..store import matches as match_store
from ..store import topics as topic_store
from ..timeparse import parse_when
from .app import DbOption, app, check_format, command, emit, open_context, out


@app.command()
@command
def matches(db: DbOption = None,
            topic: Annotated[str | None, typer.Option(help="Only this topic (slug).")] = None,
            since: Annotated[str | None, typer.Option(help="Published at or after: an age (7d, 24h) or a date (2023-03-01).")] = None,
            until: Annotated[str | None, typer.Option(help="Published before: an age or a date.")] = None,
            search: Annotated[str | None, typer.Option(help='Full-text search in title and summary ("phrases", prefix*).')] = None,
            source: Annotated[str | None, typer.Option(help="Only feeds whose name or URL contains this.")] = None,
            limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many rows.")] = 50,
            fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table") -> None:
    """Show matched entries, newest first.

    Example: followup matches --topic gsomia --since 2023-03-01 --format jsonl
    """
    check_format(fmt)
    ctx = open_context(db)
    since_at = parse_when(since) if since else None
    until_at = parse_when(until) if until else None
    with ctx.db.read() as conn:
        if topic:
            topic_store.get_topic(conn, topic)  # a clear "no such topic" instead of an empty list
        rows = match_store.search_matches(conn, topic=topic, since=since_at, until=until_at, search=search,
                                          source=source, limit=limit)
    data = [dict(topic=r.topic, title=r.title, url=r.url, guid=r.guid, published=r.published_at, feed=r.feed,
                 score=r.score, matched_terms=r.matched_terms, entry_id=r.entry_id) for r in rows]

    def table(items: list[dict]) -> None:
        if not items:
            out.print("No matches." + ("" if topic or since or search else
                                       " Add feeds (`followup feeds add`) or ingest files (`followup ingest`)."))
            return
        # The title gets the room: the other columns are cut with an ellipsis, and on a narrow terminal
        # (under 110 columns) the feed and "why" columns are left out (`--format json` has everything).
        wide = out.width >= 110
        t = Table(box=None, pad_edge=False)
        t.add_column("entry", no_wrap=True, justify="right")  # the id `followup topics explain` takes
        t.add_column("published", no_wrap=True)
        t.add_column("topic", no_wrap=True, overflow="ellipsis", max_width=18)
        t.add_column("title", ratio=1, min_width=30)
        if wide:
            t.add_column("feed", no_wrap=True, overflow="ellipsis", max_width=20)
            t.add_column("why", no_wrap=True, overflow="ellipsis", max_width=28)
        for d in items:
            row = [str(d["entry_id"]), d["published"].strftime("%Y-%m-%d %H:%M" if wide else "%Y-%m-%d"), d["topic"],
                   d["title"] or d["url"] or ""]
            if wide:
                row += [d["feed"] or "", ", ".join(d["matched_terms"][:4])]
            t.add_row(*row)
        out.print(t)
        if len(items) and not wide:
            out.print("(why it matched: `followup topics explain TOPIC ENTRY`)",
                      markup=False, style="dim")

    emit(data, fmt, table)
