"""run, poll, ingest, seed, db upgrade."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from ..db import current_revision, upgrade
from ..errors import InvalidInputError
from ..feeds.refresh import FeedOutcome, Pipeline, RunSummary, expand_paths
from ..scheduler import Service
from ..seeds import load_seeds, seed_on_first_start
from ..store import topics as topic_store
from ..topics import manage
from .app import Context, DbOption, app, command, db_app, err, open_context, out


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _print_failures(summary: RunSummary, limit: int = 20) -> None:
    failed = [o for o in summary.outcomes if o.status in ("error", "disabled")]
    for o in failed[:limit]:
        err.print(f"  ! {o.url}: {o.message}", markup=False)
    if len(failed) > limit:
        err.print(f"  … and {len(failed) - limit} more (see `followup feeds list`)")


@app.command()
@command
def run(db: DbOption = None,
        host: Annotated[str | None, typer.Option(help="Address for the web UI/API (FOLLOWUP_HTTP_HOST).")] = None,
        port: Annotated[int | None, typer.Option(help="Port for the web UI/API (FOLLOWUP_HTTP_PORT).")] = None,
        roles: Annotated[str, typer.Option(help="Comma-separated parts to run: web, scheduler (digests, retention), "
                                                "worker (polling).")] = "web,scheduler,worker") -> None:
    """Run the service: upgrade the database, load the seeds on first start, poll feeds, send digests and
    serve the web UI/API.

    Example: followup run --port 8080
    """
    wanted = tuple(r.strip() for r in roles.split(",") if r.strip())
    unknown = set(wanted) - {"web", "scheduler", "worker"}
    if unknown or not wanted:
        raise InvalidInputError(f"--roles takes web, scheduler and worker, not {', '.join(sorted(unknown)) or 'nothing'}")
    ctx = open_context(db)
    out.print(f"Database: {ctx.db.engine.url.render_as_string(hide_password=True)} (schema {current_revision(ctx.db)})", markup=False)
    report = _seeding(seed_on_first_start, ctx)
    if report:
        out.print(f"First start: loaded {report.topics_added} seed topics and {report.feeds_added} seed feeds"
                  + (f"; they matched {report.matches} stored entries." if report.matches else "."))
    host, port = host or ctx.settings.http_host, port or ctx.settings.http_port
    service_roles = tuple(r for r in wanted if r != "web")
    service = Service(ctx.db, ctx.settings, report=lambda line: out.print(line, markup=False), roles=service_roles)
    if "web" not in wanted:
        asyncio.run(service.run())
    elif not service_roles:
        _serve(ctx, host, port)
    else:
        asyncio.run(_run_with_web(service, ctx, host, port))


@app.command()
@command
def worker(db: DbOption = None) -> None:
    """Poll due feeds until stopped; start any number, on any host, against one PostgreSQL (feeds are
    claimed with FOR UPDATE SKIP LOCKED and a lease). On SQLite it is the single poller.

    Example: followup worker --db postgresql://followup@db.example/followup
    """
    ctx = open_context(db)
    asyncio.run(Service(ctx.db, ctx.settings, report=lambda line: out.print(line, markup=False),
                        roles=("worker",)).run())


@app.command()
@command
def prune(db: DbOption = None) -> None:
    """Delete entries that matched no topic after FOLLOWUP_RETENTION_DAYS (the scheduler does this every
    6 hours); matched entries and their stories stay.

    Example: followup prune --db sqlite:///followup.db
    """
    ctx = open_context(db)
    removed = Pipeline(ctx.db, ctx.settings).prune()
    out.print(f"Removed {removed} unmatched entries older than {ctx.settings.retention_days:g} days.")


async def _run_with_web(service: Service, ctx, host: str, port: int) -> None:  # noqa: ANN001
    """The scheduler and the web server in one event loop; Ctrl+C/SIGTERM stops both (the scheduler
    owns the signal handlers and tells the web server to finish)."""
    from ..web.server import check_port, make_server

    check_port(host, port)
    server = make_server(ctx.settings, ctx.db, host, port, service=service)
    web = asyncio.create_task(server.serve())
    out.print(f"Web UI and API on http://{host}:{port}/ (API docs at /docs)", markup=False)
    try:
        await service.run()
    finally:
        server.should_exit = True
        await web


@app.command()
@command
def serve(db: DbOption = None,
          host: Annotated[str | None, typer.Option(help="Address to listen on (FOLLOWUP_HTTP_HOST).")] = None,
          port: Annotated[int | None, typer.Option(help="Port (FOLLOWUP_HTTP_PORT).")] = None) -> None:
    """Run only the web UI and API (no polling): for a separate web process in front of workers.

    Example: followup serve --host 0.0.0.0 --port 8080
    """
    ctx = open_context(db)
    _serve(ctx, host or ctx.settings.http_host, port or ctx.settings.http_port)


def _serve(ctx, host: str, port: int) -> None:  # noqa: ANN001
    from ..web.server import check_port, make_server

    check_port(host, port)
    out.print(f"Web UI and API on http://{host}:{port}/ (API docs at /docs). Press Ctrl+C to stop.", markup=False)
    server = make_server(ctx.settings, ctx.db, host, port, capture_signals=True)
    asyncio.run(server.serve())


@app.command()
@command
def poll(db: DbOption = None,
         all_feeds: Annotated[bool, typer.Option("--all", help="Poll every feed, not only those that are due.")] = False) -> None:
    """Poll due feeds once (or all with --all), then exit.

    Example: followup poll --all
    """
    ctx = open_context(db)
    pipeline = Pipeline(ctx.db, ctx.settings)
    with _progress() as progress:
        task = progress.add_task("Polling", total=0)

        def claimed(n: int) -> None:
            progress.update(task, total=(progress.tasks[0].total or 0) + n)

        def done(_o: FeedOutcome) -> None:
            progress.advance(task)

        summary = asyncio.run(pipeline.poll(include_not_due=all_feeds, on_claimed=claimed, on_done=done))
    if not summary.outcomes:
        out.print("No feeds are due. Use --all to poll every feed now.")
        return
    out.print(f"Polled {summary.line()}.")
    _print_failures(summary)


@app.command()
@command
def ingest(paths: Annotated[list[Path], typer.Argument(help="Feed files (RSS, Atom, RDF, JSON Feed) or folders of them.")],
           db: DbOption = None) -> None:
    """Ingest local feed files exactly as if fetched; each file is its own feed source.

    Example: followup ingest saved/yonhap-2023-03-06.xml archive/
    """
    ctx = open_context(db)
    files = expand_paths(paths)
    missing = [p for p in files if not p.exists()]
    for p in missing:
        err.print(f"  ! {p}: no such file", markup=False)
    files = [p for p in files if p.exists()]
    pipeline = Pipeline(ctx.db, ctx.settings)
    # Store every file first, then place the new entries in stories in publication order: files come
    # per source (or in any order), and placing them file by file split one event into several stories.
    pipeline.defer_stories = True
    summary = RunSummary()
    with _progress() as progress:
        task = progress.add_task("Ingesting", total=len(files))
        for path in files:
            summary.outcomes.append(pipeline.ingest_file(path))
            progress.advance(task)
        placing = progress.add_task("Grouping into developments", total=None)
        pipeline.assign_missing_stories()
        pipeline.assign_developments()
        progress.update(placing, total=1, completed=1)
    read = sum(o.entries for o in summary.outcomes)
    out.print(f"Ingested {len(files)} files: {read} entries read, {summary.new_entries} new, "
              f"{sum(o.updated for o in summary.outcomes)} updated, {summary.new_matches} new matches; "
              f"{summary.count('error')} files could not be read.")
    _print_failures(summary)
    if summary.new_entries and not _has_active_topics(ctx):
        out.print("No topic is active, so nothing was matched: `followup seed` loads the seed topics and "
                  "`followup topics add` adds your own; either matches the entries stored now.")
    if missing or (files and summary.count("error") == len(files)):
        raise typer.Exit(1)


def _seeding(load: Callable, ctx: Context):  # noqa: ANN202 - a SeedReport, or None from seed_on_first_start
    """Load the seeds with `load` (load_seeds or seed_on_first_start), a spinner naming the topic whose
    stored entries are being matched."""
    with _progress() as progress:
        task = progress.add_task("Loading the seed topics", total=None)
        return load(ctx.db, ctx.settings.seeds_dir, on_topic=lambda slug: progress.update(
            task, description=f"Matching the stored entries to {slug}"))


def _has_active_topics(ctx: Context) -> bool:
    with ctx.db.read() as conn:
        return bool(topic_store.list_topics(conn, active_only=True))


@app.command()
@command
def seed(db: DbOption = None) -> None:
    """Load the seed topics and feeds that are missing (existing ones are left as they are).

    Example: followup seed
    """
    ctx = open_context(db)
    report = _seeding(load_seeds, ctx)
    if report.matches:  # `run` leaves this to its worker, which places them before each poll
        manage.place_stories(ctx.db, ctx.settings)
    out.print(f"Topics: {report.topics_added} added, {report.topics_kept} already present. "
              f"Feeds: {report.feeds_added} added, {report.feeds_kept} already present."
              + (f" The topics added matched {report.matches} stored entries." if report.added else ""))


@db_app.command("upgrade")
@command
def db_upgrade(db: DbOption = None,
               revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Upgrade the database schema (followup run does this by itself).

    Example: followup db upgrade --db postgresql://postgres@127.0.0.1/followup
    """
    ctx = open_context(db, migrate=False)
    before = current_revision(ctx.db)
    upgrade(ctx.db, revision)
    out.print(f"Schema: {before or 'empty'} -> {current_revision(ctx.db)}")


@db_app.command("current")
@command
def db_current(db: DbOption = None) -> None:
    """Show the schema revision of the database.

    Example: followup db current
    """
    ctx = open_context(db, migrate=False)
    out.print(current_revision(ctx.db) or "empty (run `followup db upgrade`)")
