"""Shared CLI plumbing: the Typer app, the --db option, context, errors as one clear sentence."""

from __future__ import annotations

import atexit
import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from typing import Annotated, Any

import sqlalchemy.exc
import typer
from pydantic import ValidationError
from rich.console import Console

from ..config import Settings
from ..db import Database, current_revision, upgrade
from ..errors import FollowupError, QueryError

app = typer.Typer(
    help="Followup: watch news feeds for the topics you name and see what developed.\n\n"
         "Start with `followup run` (sets everything up on first start), or `followup ingest FILE` to "
         "read saved feeds, then `followup matches`.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
feeds_app = typer.Typer(help="Add, list, remove, import and export feeds.", no_args_is_help=True, rich_markup_mode=None)
topics_app = typer.Typer(help="Add, list, show, edit and remove topics.", no_args_is_help=True, rich_markup_mode=None)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(feeds_app, name="feeds")
app.add_typer(topics_app, name="topics")
app.add_typer(db_app, name="db")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (overrides FOLLOWUP_DATABASE_URL), e.g. sqlite:///news.db "
                              "or postgresql://user@host/db.", show_default=False),
]
FORMATS = ("table", "json", "jsonl", "csv")


@dataclass
class Context:
    settings: Settings
    db: Database


_root_db: str | None = None


@app.callback()
def _root(db: DbOption = None, verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details to stderr.")] = False) -> None:
    global _root_db
    _root_db = db
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def open_context(db_url: str | None, *, migrate: bool = True) -> Context:
    """Settings + database, with the schema brought up to date (a no-op when it already is)."""
    url = db_url or _root_db
    try:
        # Keyword arguments win over the environment, and are validated like it.
        settings = Settings(database_url=url) if url else Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "--db" if url and first["loc"] and first["loc"][0] == "database_url" else f"FOLLOWUP_{str(first['loc'][0]).upper()}"
        raise FollowupError(f"Bad setting {name}: {first['msg'].removeprefix('Value error, ')}") from None
    db = Database(settings.database_url)
    # Close pooled connections when the command finishes (and at exit, for commands that hand the
    # database to a server): the last SQLite connection to close checkpoints the WAL, so the .db file
    # alone is complete once a command has finished, and a process that runs many commands (the tests)
    # does not keep a pool of PostgreSQL connections per command.
    atexit.register(db.dispose)
    _opened.append(db)
    if migrate:
        ensure_schema(db)
    return Context(settings, db)


def ensure_schema(db: Database) -> None:
    from alembic.script import ScriptDirectory

    from ..db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    try:
        current = current_revision(db)
    except Exception as exc:  # noqa: BLE001 - any driver error here means "cannot reach the database"
        raise FollowupError(f"Cannot open the database {db.engine.url.render_as_string(hide_password=True)}: "
                            f"{str(exc).splitlines()[0]}") from exc
    if current != head:
        upgrade(db)


_opened: list[Database] = []


def command(fn: Callable) -> Callable:
    """Turn FollowupError into one sentence on stderr and exit code 1; close the databases it opened."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QueryError as exc:
            err.print(f"Error: {exc}", markup=False)
            if exc.pointer():
                err.print(exc.pointer(), markup=False)
            raise typer.Exit(1) from None
        except FollowupError as exc:
            err.print(f"Error: {exc}", markup=False)
            raise typer.Exit(1) from None
        except sqlalchemy.exc.DBAPIError as exc:  # a read-only, locked or unreachable database
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            err.print(f"Error: The database could not be used: {first[0] if first else type(exc).__name__}", markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("Interrupted.")
            raise typer.Exit(130) from None
        finally:
            while _opened:
                _opened.pop().dispose()

    return wrapper


def check_format(fmt: str, allowed: Iterable[str] = FORMATS) -> str:
    allowed = tuple(allowed)
    if fmt not in allowed:
        raise FollowupError(f"Unknown format {fmt!r}; choose one of: {', '.join(allowed)}")
    return fmt


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):  # a datetime is a date
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, date):  # a datetime is a date
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def emit(rows: list[dict], fmt: str, table: Callable[[list[dict]], None]) -> None:
    """Print rows as a Rich table, JSON, JSON lines or CSV."""
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=_json_default) + "\n")
    elif fmt == "jsonl":
        for r in rows:
            sys.stdout.write(json.dumps(r, ensure_ascii=False, default=_json_default) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else _jsonable(v))
                                 for k, v in r.items()})
        sys.stdout.write(buffer.getvalue())
    else:
        table(rows)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int | None = None) -> str:
    """Per-day volumes as one line of block characters (empty days as spaces). With `width`, consecutive
    days are summed so the line is at most that many characters (see `per_mark`)."""
    step = per_mark(len(values), width)
    if step > 1:
        values = [sum(values[i:i + step]) for i in range(0, len(values), step)]
    top = max(values, default=0)
    if top == 0:
        return " " * len(values)
    return "".join(" " if v == 0 else _BARS[min(len(_BARS) - 1, (v * len(_BARS) - 1) // top)] for v in values)


def per_mark(days: int, width: int | None) -> int:
    """How many days one character of a sparkline of `days` days stands for within `width` characters."""
    if not width or days <= width:
        return 1
    return -(-days // max(1, width))


def spark_width(used: int) -> int:
    """What a terminal line has left for a sparkline after `used` characters of labels."""
    return max(10, out.width - used)


def ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "—"
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"
