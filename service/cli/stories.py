"""followup stories and followup timeline: developments, not copies of one wire story."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..models import utcnow
from ..store import developments as development_store
from ..store import stats as stats_store
from ..store import stories as story_store
from ..store import topics as topic_store
from ..stories.view import load_stories
from ..timeparse import parse_window
from .app import DbOption, app, check_format, command, emit, open_context, out, per_mark, spark_width, sparkline


def _load(ctx, topic: str | None, since: str | None, until: str | None, limit: int):  # noqa: ANN001, ANN202
    since_at, until_at = parse_window(since, until)
    return load_stories(ctx.db, topic=topic, since=since_at, until=until_at, limit=limit), since_at, until_at


def _where_the_matches_are(ctx, slug: str) -> None:  # noqa: ANN001
    """After an empty window: where the topic's newest match is (an archive ingested from 2023 shows nothing
    in the default window of the last 90 days, and said only "0 developments")."""
    with ctx.db.read() as conn:
        topic_store.get_topic(conn, slug)  # an unknown topic is one sentence, not a hint
        latest = stats_store.latest_match_at(conn, slug)
    if latest is None:
        out.print(f"{slug} has no matches yet.", markup=False)
    else:
        out.print(f"The newest match of {slug} is from {latest:%Y-%m-%d}: try --since "
                  f"{latest - timedelta(days=30):%Y-%m-%d} --until {latest + timedelta(days=1):%Y-%m-%d}.", markup=False)


@app.command()
@command
def stories(db: DbOption = None,
            topic: Annotated[str | None, typer.Option(help="A topic's own developments instead of all stories.")] = None,
            since: Annotated[str | None, typer.Option(help="Active since: an age (7d, counted back from --until) or a date.")] = "7d",
            until: Annotated[str | None, typer.Option(help="Active before: an age or a date.")] = None,
            limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many stories.")] = 20,
            fmt: Annotated[str, typer.Option("--format", help="table, json or jsonl.")] = "table") -> None:
    """Stories (one event, all its outlets), most recently active first; with --topic, that topic's
    developments (its own matched entries grouped by event).

    Example: followup stories --topic forced-labor --since 2023-03-01 --until 2023-03-31
    """
    check_format(fmt, ("table", "json", "jsonl"))
    ctx = open_context(db)
    data, _, _ = _load(ctx, topic, since, until, limit)

    def table(items: list[dict]) -> None:
        if not items:
            out.print("No developments in this window." if topic else "No stories in this window.")
            if topic:
                _where_the_matches_are(ctx, topic)
            return
        t = Table("story", "first seen", "last seen", "outlets", "entries", "", "headline", box=None, pad_edge=False)
        for d in items:
            t.add_row(str(d["id"]), f"{d['first_seen']:%Y-%m-%d %H:%M}", f"{d['last_seen']:%Y-%m-%d %H:%M}",
                      str(d["outlets"]), str(d["entry_count"]), d["status"], d["headline"][:100])
        out.print(t)

    emit(data, fmt, table)


@app.command()
@command
def timeline(slug: Annotated[str, typer.Argument(help="The topic.")], db: DbOption = None,
             since: Annotated[str, typer.Option(help="From: an age (90d, counted back from --until) or a date.")] = "90d",
             until: Annotated[str | None, typer.Option(help="Until: an age or a date (default now).")] = None,
             limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many developments.")] = 50) -> None:
    """A topic's developments as a dated list, newest first (with a per-day volume line on a terminal).

    Example: followup timeline forced-labor --since 2023-01-01 --until 2023-07-01
    """
    ctx = open_context(db)
    data, since_at, until_at = _load(ctx, slug, since, until, limit)
    with ctx.db.read() as conn:
        total, new = development_store.count_developments(conn, topic_store.get_topic(conn, slug).id,
                                                          since=since_at, until=until_at)
    end = (until_at or utcnow())
    shown = f"; the latest {len(data)} shown (--limit)" if total > len(data) else ""
    out.print(f"{slug}: {total} developments from {since_at:%Y-%m-%d} to {end:%Y-%m-%d} "
              f"({new} new, {total - new} continuing){shown}", markup=False)
    if not total:
        _where_the_matches_are(ctx, slug)
    if out.is_terminal and data:
        with ctx.db.read() as conn:
            counts = story_store.topic_daily_counts(conn, slug, since_at, until_at)
        first: date = since_at.date()
        days = [(first + timedelta(days=i)) for i in range((end.date() - first).days + 1)]
        values = [counts.get(d.isoformat(), 0) for d in days]
        legend = "matched entries per day"
        width = spark_width(len("  mm-dd  mm-dd   ") + len(legend) + 12)
        step = per_mark(len(values), width)
        if step > 1:
            legend = f"matched entries per {step} days"
        out.print(f"  {days[0]:%m-%d} {sparkline(values, width)} {days[-1]:%m-%d}   {legend}", markup=False)
    for d in data:
        first = d["topic_first_seen"]
        span = f"{first:%Y-%m-%d}" + (f" → {d['last_seen']:%m-%d}" if d["last_seen"].date() != first.date() else "")
        marker = "" if d["status"] == "new" else "  (continuing)"
        out.print(f"{span:<18} {d['topic_headline']}{marker}", markup=False)
        for line in d.get("days", []):
            out.print(f"{'':<18}   {line['day']:%m-%d}: {line['headline']} ({line['entries']})", markup=False)
        feeds = sorted({e["feed"] or "?" for e in d["entries"]})
        shown = ", ".join(feeds[:6]) + (f" and {len(feeds) - 6} more" if len(feeds) > 6 else "")
        wider = d.get("story_outlets") or 0
        out.print(f"{'':<18} {d['outlets']} outlet{'s' if d['outlets'] != 1 else ''}, {d['entry_count']} "
                  f"entr{'ies' if d['entry_count'] != 1 else 'y'}: {shown}"
                  + (f"; {wider} outlets in the wider story" if wider > d["outlets"] else ""), markup=False)
