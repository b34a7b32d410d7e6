"""followup feeds add | list | remove | import | export | enable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InvalidInputError
from ..feeds.discover import check_feed_url
from ..feeds.opml import OutlineFeed, parse_opml, render_opml
from ..models import utcnow
from ..store import feeds as feed_store
from .app import DbOption, ago, check_format, command, emit, feeds_app, open_context, out


@feeds_app.command("add")
@command
def add(url: Annotated[str, typer.Argument(help="The feed's URL.")], db: DbOption = None,
        title: Annotated[str | None, typer.Option(help="A name to show (default: the feed's own title).")] = None) -> None:
    """Add a feed; it is polled at the next scheduler tick.

    Example: followup feeds add https://en.yna.co.kr/RSS/news.xml
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        row = feed_store.add_feed(conn, check_feed_url(url), title)
    out.print(f"Added feed {row.id}: {row.url}", markup=False)


@feeds_app.command("list")
@command
def list_(db: DbOption = None,
          fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table",
          files: Annotated[bool, typer.Option("--files", help="Also list sources added by `followup ingest`.")] = False) -> None:
    """List feeds with their health: last status, last error, error count, next check.

    Example: followup feeds list --format json
    """
    check_format(fmt)
    ctx = open_context(db)
    with ctx.db.read() as conn:
        rows = feed_store.list_feeds(conn, None)
    hidden = 0 if files else sum(1 for r in rows if r.kind != "http")
    rows = [r for r in rows if files or r.kind == "http"]
    now = utcnow()
    data = [dict(id=r.id, url=r.url, title=r.title, kind=r.kind, entries=r.entry_count, last_status=r.last_status,
                 last_error=r.last_error, error_count=r.error_count, last_checked_at=r.last_checked_at,
                 next_check_at=r.next_check_at, disabled_reason=r.disabled_reason) for r in rows]

    def table(items: list[dict]) -> None:
        t = Table("id", "feed", "entries", "status", "checked", "next", "problem", box=None, pad_edge=False)
        for d in items:
            problem = d["disabled_reason"] or d["last_error"] or ""
            status = "disabled" if d["disabled_reason"] else (d["last_status"] or "new")
            style = "red" if d["disabled_reason"] or d["error_count"] else None
            t.add_row(str(d["id"]), d["title"] or d["url"], str(d["entries"]), status, ago(d["last_checked_at"], now),
                      "—" if d["disabled_reason"] else ago(d["next_check_at"], now), problem[:80], style=style)
        out.print(t)
        failing = sum(1 for d in items if d["error_count"] or d["disabled_reason"])
        out.print(f"{len(items)} feeds, {failing} with problems."
                  + (f" {hidden} sources read by `followup ingest` are not listed (--files lists them)." if hidden else ""),
                  markup=False)

    emit(data, fmt, table)


@feeds_app.command("remove")
@command
def remove(feed: Annotated[str, typer.Argument(help="Feed id or URL.")], db: DbOption = None) -> None:
    """Remove a feed. Its entries and matches are kept.

    Example: followup feeds remove 12
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        row = feed_store.remove_feed(conn, feed)
    out.print(f"Removed feed {row.id}: {row.url} (its entries are kept)", markup=False)


@feeds_app.command("enable")
@command
def enable(feed: Annotated[str, typer.Argument(help="Feed id or URL.")], db: DbOption = None) -> None:
    """Re-enable a feed that was disabled (e.g. after HTTP 410) and poll it at the next tick.

    Example: followup feeds enable 12
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        row = feed_store.enable_feed(conn, feed)
    out.print(f"Enabled feed {row.id}: {row.url}", markup=False)


@feeds_app.command("import")
@command
def import_(path: Annotated[Path, typer.Argument(help="An OPML file.")], db: DbOption = None) -> None:
    """Add every feed listed in an OPML file (feeds already present are skipped).

    Example: followup feeds import subscriptions.opml
    """
    ctx = open_context(db)
    try:
        outlines = parse_opml(path.read_bytes())
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror}") from exc
    added = skipped = invalid = 0
    with ctx.db.write() as conn:
        for o in outlines:
            try:
                url = check_feed_url(o.url)
            except InvalidInputError:
                invalid += 1
                continue
            if feed_store.get_feed_by_url(conn, url):
                skipped += 1
            else:
                feed_store.add_feed(conn, url, o.title)
                added += 1
    out.print(f"Imported {path}: {added} feeds added, {skipped} already present, {invalid} without a usable URL.", markup=False)


@feeds_app.command("export")
@command
def export(db: DbOption = None,
           output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None) -> None:
    """Export the feed list as OPML.

    Example: followup feeds export -o feeds.opml
    """
    ctx = open_context(db)
    with ctx.db.read() as conn:
        rows = feed_store.list_feeds(conn, "http")
    text = render_opml([OutlineFeed(r.url, r.title) for r in rows])
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"Wrote {len(rows)} feeds to {output}", markup=False)
    else:
        typer.echo(text, nl=False)
