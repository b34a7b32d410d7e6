"""followup alerts add | list | remove | pause | resume | test: instant alerts through Apprise."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..alerts import check_alert_url, describe, push
from ..errors import InvalidInputError
from ..models import utcnow
from ..store import alerts as store
from ..store import topics as topic_store
from .app import DbOption, app, check_format, command, emit, open_context, out

alerts_app = typer.Typer(help="Instant alerts: a push (ntfy, Telegram, Slack, …) when a topic moves.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(alerts_app, name="alerts")


def when(trigger: str, min_outlets: int | None) -> str:
    return "a new development" if trigger == "new" else f"a development reaches {min_outlets} outlets"


@alerts_app.command("add")
@command
def add(url: Annotated[str, typer.Argument(help="An Apprise URL: ntfy://topic, tgram://token/chat, json://host/path, …")],
        db: DbOption = None,
        topic: Annotated[str | None, typer.Option(help="Only this topic (default: every topic).")] = None,
        outlets: Annotated[int | None, typer.Option(min=2, max=1000, help="Alert when a development reaches this "
                                                    "many outlets (default: alert on every new development).")] = None) -> None:
    """Push an alert within one poll cycle when a topic gets a new development (or one reaches N outlets).

    Example: followup alerts add ntfy://followup-gsomia --topic gsomia --outlets 5
    """
    ctx = open_context(db)
    url = check_alert_url(url, ctx.settings)
    trigger = "outlets" if outlets else "new"
    with ctx.db.write() as conn:
        topic_id = topic_store.get_topic(conn, topic).id if topic else None
        row = store.add_alert(conn, url=url, topic_id=topic_id, trigger=trigger, min_outlets=outlets, now=utcnow())
    out.print(f"Alert {row.id}: {when(trigger, outlets)} on {topic or 'any topic'} is pushed to "
              f"{describe(row)['url']} within one poll cycle.", markup=False)


@alerts_app.command("list")
@command
def list_(db: DbOption = None,
          fmt: Annotated[str, typer.Option("--format", help="table, json or jsonl.")] = "table") -> None:
    """Alerts with their last push and error (URLs are shown by scheme only: they carry tokens).

    Example: followup alerts list
    """
    check_format(fmt, ("table", "json", "jsonl"))
    ctx = open_context(db)
    with ctx.db.read() as conn:
        rows = [describe(a) for a in store.list_alerts(conn)]

    def table(items: list[dict]) -> None:
        if not items:
            out.print("No alerts. Add one with `followup alerts add ntfy://my-topic --topic gsomia`.")
            return
        t = Table("id", "to", "topic", "when", "last", box=None, pad_edge=False)
        for d in items:
            last = "paused" if d["paused"] else (f"{d['last_sent_at']:%Y-%m-%d %H:%M}" if d["last_sent_at"] else "never")
            if d["last_error"]:
                last += f": {d['last_error']}"
            t.add_row(str(d["id"]), d["url"], d["topic"], when(d["trigger"], d["min_outlets"]), last)
        out.print(t)

    emit(rows, fmt, table)


@alerts_app.command("remove")
@command
def remove(alert_id: Annotated[int, typer.Argument(help="The alert's id.")], db: DbOption = None) -> None:
    """Delete an alert.

    Example: followup alerts remove 1
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        store.remove_alert(conn, alert_id)
    out.print(f"Removed alert {alert_id}.")


def _pause(alert_id: int, db: str | None, paused: bool) -> None:
    ctx = open_context(db)
    with ctx.db.write() as conn:
        store.set_paused(conn, alert_id, paused)
    hint = f" Resume with `followup alerts resume {alert_id}`." if paused else ""
    out.print(f"{'Paused' if paused else 'Resumed'} alert {alert_id}.{hint}", markup=False)


@alerts_app.command("pause")
@command
def pause(alert_id: Annotated[int, typer.Argument(help="The alert's id.")], db: DbOption = None) -> None:
    """Stop an alert until it is resumed (developments in between are not pushed later).

    Example: followup alerts pause 1
    """
    _pause(alert_id, db, True)


@alerts_app.command("resume")
@command
def resume(alert_id: Annotated[int, typer.Argument(help="The alert's id.")], db: DbOption = None) -> None:
    """Resume a paused alert.

    Example: followup alerts resume 1
    """
    _pause(alert_id, db, False)


@alerts_app.command("test")
@command
def test(url: Annotated[str, typer.Argument(help="An Apprise URL.")], db: DbOption = None) -> None:
    """Send one test notification now.

    Example: followup alerts test ntfy://followup-gsomia
    """
    ctx = open_context(db)
    if not url.strip():
        raise InvalidInputError("The notification URL is empty")
    push(url, "Followup test notification", "If you read this, alerts reach you.", ctx.settings)
    out.print("Sent a test notification.")


