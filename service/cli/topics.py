"""followup topics add | list | show | edit | remove."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InvalidInputError
from ..feeds.refresh import match_backlog
from ..store import matches as match_store
from ..store import topics as topic_store
from ..topics.compile import TopicSpec, compile_topic
from .app import DbOption, check_format, command, emit, open_context, out, topics_app

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
AliasOption = Annotated[
    list[str] | None,
    typer.Option("--alias", help='A synonym group NAME=SYN1|SYN2, used wherever NAME appears in the query. '
                                 'Repeatable. Example: --alias "gsomia=General Security of Military Information Agreement|지소미아"'),
]


def _aliases(values: list[str] | None) -> dict[str, list[str]] | None:
    if not values:
        return None
    out_: dict[str, list[str]] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        synonyms = [s.strip() for s in rest.split("|") if s.strip()]
        if not sep or not name.strip() or not synonyms:
            raise InvalidInputError(f"--alias {value!r} should look like NAME=SYNONYM1|SYNONYM2")
        out_[name.strip()] = synonyms
    return out_


def _validate(slug: str, query: str, exclude: str | None, aliases: dict | None) -> None:
    compile_topic(TopicSpec(0, slug, query, exclude, aliases or {}))


@topics_app.command("add")
@command
def add(slug: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits and dashes.")],
        name: Annotated[str, typer.Option(help="A readable name.")],
        query: Annotated[str, typer.Option(help="What to look for (see docs/queries.md).")],
        db: DbOption = None,
        description: Annotated[str, typer.Option(help="What this topic is and is not about.")] = "",
        exclude: Annotated[str | None, typer.Option(help="Entries matching this query are never matched.")] = None,
        alias: AliasOption = None,
        backlog: Annotated[bool, typer.Option(help="Also match the entries already stored.")] = True) -> None:
    """Add a topic and match the stored backlog against it.

    Example: followup topics add gsomia --name "GSOMIA" --query 'gsomia OR "intelligence sharing" (japan korea)'
    """
    if not _SLUG.match(slug):
        raise InvalidInputError(f"{slug!r} is not a valid slug: use lower-case letters, digits and dashes (e.g. japan-trade)")
    aliases = _aliases(alias)
    _validate(slug, query, exclude, aliases)
    ctx = open_context(db)
    with ctx.db.write() as conn:
        topic_store.add_topic(conn, slug, name, query, description=description, exclude=exclude, aliases=aliases)
    out.print(f"Added topic {slug}.", markup=False)
    if backlog:
        added = match_backlog(ctx.db, slug)
        out.print(f"Matched {added} stored entries.")


@topics_app.command("list")
@command
def list_(db: DbOption = None,
          fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table") -> None:
    """List topics with their match counts.

    Example: followup topics list
    """
    check_format(fmt)
    ctx = open_context(db)
    with ctx.db.read() as conn:
        rows = [dict(slug=t.slug, name=t.name, active=t.active, matches=match_store.count_matches(conn, t.id),
                     query=t.query, exclude=t.exclude, description=t.description, aliases=t.aliases or {})
                for t in topic_store.list_topics(conn)]

    def table(items: list[dict]) -> None:
        t = Table("slug", "name", "matches", "active", box=None, pad_edge=False)
        for d in items:
            t.add_row(d["slug"], d["name"], str(d["matches"]), "yes" if d["active"] else "no")
        out.print(t)

    emit(rows, fmt, table)


@topics_app.command("show")
@command
def show(slug: str, db: DbOption = None) -> None:
    """Show a topic: its description, query, exclusion, aliases and match count.

    Example: followup topics show gsomia
    """
    ctx = open_context(db)
    with ctx.db.read() as conn:
        t = topic_store.get_topic(conn, slug)
        count = match_store.count_matches(conn, t.id)
    out.print(f"{t.slug}: {t.name}{'' if t.active else ' (inactive)'}", markup=False)
    if t.description:
        out.print(f"  {t.description}", markup=False)
    out.print(f"  query:   {' '.join(t.query.split())}", markup=False)
    if t.exclude:
        out.print(f"  exclude: {t.exclude}", markup=False)
    for name, synonyms in (t.aliases or {}).items():
        out.print(f"  alias:   {name} = {' | '.join(synonyms)}", markup=False)
    out.print(f"  matches: {count}")


@topics_app.command("edit")
@command
def edit(slug: str, db: DbOption = None,
         name: Annotated[str | None, typer.Option(help="New name.")] = None,
         query: Annotated[str | None, typer.Option(help="New query; stored matches are recomputed.")] = None,
         description: Annotated[str | None, typer.Option(help="New description.")] = None,
         exclude: Annotated[str | None, typer.Option(help="New exclusion query ('' removes it).")] = None,
         alias: AliasOption = None,
         active: Annotated[bool | None, typer.Option("--active/--inactive", help="Pause or resume matching.")] = None) -> None:
    """Change a topic. A new query or exclusion re-matches the stored entries.

    Example: followup topics edit gsomia --query 'gsomia OR "intelligence-sharing pact"'
    """
    ctx = open_context(db)
    aliases = _aliases(alias)
    with ctx.db.read() as conn:
        current = topic_store.get_topic(conn, slug)
    new_exclude = None if exclude is None else (exclude or "")
    _validate(slug, query or current.query, current.exclude if exclude is None else (exclude or None),
              aliases if aliases is not None else current.aliases)
    with ctx.db.write() as conn:
        topic_store.update_topic(conn, slug, name=name, query=query, description=description, exclude=new_exclude,
                                 aliases=aliases, active=active)
    out.print(f"Updated topic {slug}.", markup=False)
    if query is not None or exclude is not None or aliases is not None:
        added = match_backlog(ctx.db, slug, replace=True)
        out.print(f"Re-matched stored entries: {added} matches.")


@topics_app.command("remove")
@command
def remove(slug: str, db: DbOption = None) -> None:
    """Remove a topic and its matches (the entries stay).

    Example: followup topics remove gsomia
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        topic_store.remove_topic(conn, slug)
    out.print(f"Removed topic {slug}.", markup=False)
