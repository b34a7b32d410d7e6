"""followup subscriptions add | list | remove | pause | resume, and followup digest."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from ..digest import schedule
from ..digest.deliver import validate_target
from ..digest.render import FORMATS, render
from ..digest.runner import DigestService
from ..errors import InvalidInputError
from ..feeds.refresh import worker_name
from ..models import utcnow
from ..store import digests as store
from ..timeparse import parse_when
from .app import DbOption, app, check_format, command, emit, open_context, out

subscriptions_app = typer.Typer(help="Who gets a digest, how and when.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(subscriptions_app, name="subscriptions")

def _topics(value: str | None) -> list[str] | None:
    if not value:
        return None
    slugs = [s.strip() for s in value.split(",") if s.strip()]
    return slugs or None


def _describe(sub, now: datetime) -> dict:  # noqa: ANN001
    try:
        next_at = None if sub.paused else schedule.next_due(now, sub.send_at, sub.timezone)
    except schedule.ScheduleError:
        next_at = None
    local = next_at.astimezone(schedule.zone(sub.timezone)) if next_at else None
    from ..alerts import shown_target

    return dict(id=sub.id, channel=sub.channel, target=shown_target(sub.channel, sub.target),
                topics=sub.topics or "all", at=sub.send_at, timezone=sub.timezone, format=sub.format,
                paused=sub.paused, next_send=local.isoformat() if local else None, last_sent_at=sub.last_sent_at,
                last_status=sub.last_status, last_error=sub.last_error)


@subscriptions_app.command("add")
@command
def add(db: DbOption = None,
        email: Annotated[str | None, typer.Option(help="Send by email to this address (needs FOLLOWUP_SMTP_HOST).")] = None,
        webhook: Annotated[str | None, typer.Option(help="POST the digest as JSON to this URL (Slack-compatible).")] = None,
        dir_: Annotated[str | None, typer.Option("--dir", help="Write dated .html/.md/.json files into this folder.")] = None,
        apprise: Annotated[str | None, typer.Option(help="Push through an Apprise URL (ntfy://topic, tgram://token/chat, …).")] = None,
        skip_empty: Annotated[bool, typer.Option(help="Send nothing on a day with nothing new.")] = False,
        topics: Annotated[str | None, typer.Option(help="Comma-separated topic slugs (default: all topics).")] = None,
        at: Annotated[str, typer.Option("--at", help="Local time of day to send, HH:MM.")] = "07:00",
        tz: Annotated[str, typer.Option("--tz", help="IANA time zone, e.g. Asia/Seoul.")] = "UTC",
        fmt: Annotated[str, typer.Option("--format", help="Body for webhook/dir: html, markdown, text or json.")] = "html") -> None:
    """Subscribe to a daily digest.

    Example: followup subscriptions add --email me@example.org --at 07:00 --tz Asia/Seoul --topics gsomia,forced-labor
    """
    chosen = [(name, value) for name, value in (("email", email), ("webhook", webhook), ("dir", dir_),
                                                ("apprise", apprise)) if value]
    if len(chosen) != 1:
        raise InvalidInputError("Give exactly one of --email, --webhook, --dir or --apprise")
    channel, target = chosen[0]
    check_format(fmt, FORMATS)
    send_at = schedule.parse_send_at(at).strftime("%H:%M")
    schedule.zone(tz)
    ctx = open_context(db)
    target = validate_target(channel, target, ctx.settings)
    now = utcnow()
    with ctx.db.write() as conn:
        slugs = _topics(topics)
        if slugs:
            store.digest_topics(conn, slugs)  # every named topic must exist
        sub = store.add_subscription(conn, channel=channel, target=target, topics_=slugs, send_at=send_at, tz=tz,
                                     fmt=fmt, now=now, skip_empty=skip_empty)
    info = _describe(sub, now)
    if channel == "dir":  # relative to the data directory (FOLLOWUP_DATA_DIR), not the working directory
        from ..digest.deliver import confined_folder

        target = f"{target} ({confined_folder(ctx.settings, target)})"
    if channel == "apprise":
        target = info["target"]
    out.print(f"Subscription {sub.id}: {channel} to {target}, topics {', '.join(slugs) if slugs else 'all'}, "
              f"daily at {send_at} {tz} (next: {info['next_send']}).", markup=False)


@subscriptions_app.command("list")
@command
def list_(db: DbOption = None,
          fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table") -> None:
    """Subscriptions with their next send time and last status.

    Example: followup subscriptions list --format json
    """
    check_format(fmt, ("table", "json", "jsonl"))
    ctx = open_context(db)
    now = utcnow()
    with ctx.db.read() as conn:
        rows = [_describe(s, now) for s in store.list_subscriptions(conn)]

    def table(items: list[dict]) -> None:
        if not items:
            out.print("No subscriptions. Add one with `followup subscriptions add --email ADDR`.")
            return
        t = Table("id", "channel", "to", "topics", "at", "next send", "last", box=None, pad_edge=False)
        for d in items:
            topics_ = d["topics"] if isinstance(d["topics"], str) else ",".join(d["topics"])
            last = d["last_status"] or "never sent"
            if d["last_error"]:
                last += f": {d['last_error']}"
            t.add_row(str(d["id"]), d["channel"], d["target"], topics_, f"{d['at']} {d['timezone']}",
                      "paused" if d["paused"] else (d["next_send"] or "?")[:16].replace("T", " "), last)
        out.print(t)

    emit(rows, fmt, table)


@subscriptions_app.command("remove")
@command
def remove(sub_id: Annotated[int, typer.Argument(help="The subscription's id.")], db: DbOption = None) -> None:
    """Delete a subscription and its send history.

    Example: followup subscriptions remove 2
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        sub = store.remove_subscription(conn, sub_id)
    out.print(f"Removed subscription {sub.id} ({sub.channel} to {_describe(sub, utcnow())['target']}).", markup=False)


def _pause(sub_id: int, db: str | None, paused: bool) -> None:
    ctx = open_context(db)
    with ctx.db.write() as conn:
        sub = store.set_paused(conn, sub_id, paused)
    hint = f" Resume with `followup subscriptions resume {sub.id}`." if paused else ""
    out.print(f"{'Paused' if paused else 'Resumed'} subscription {sub.id}.{hint}", markup=False)


@subscriptions_app.command("pause")
@command
def pause(sub_id: Annotated[int, typer.Argument(help="The subscription's id.")], db: DbOption = None) -> None:
    """Stop sending a subscription's digest until it is resumed.

    Example: followup subscriptions pause 2
    """
    _pause(sub_id, db, True)


@subscriptions_app.command("resume")
@command
def resume(sub_id: Annotated[int, typer.Argument(help="The subscription's id.")], db: DbOption = None) -> None:
    """Send a paused subscription's digest again (the next one covers the pause, up to the maximum window).

    Example: followup subscriptions resume 2
    """
    _pause(sub_id, db, False)


@app.command()
@command
def digest(db: DbOption = None,
           subscription: Annotated[int | None, typer.Option(help="Build this subscription's digest (its topics and zone).")] = None,
           topics: Annotated[str | None, typer.Option(help="Comma-separated topic slugs (default: all).")] = None,
           since: Annotated[str | None, typer.Option(help="Window start: an age (24h) or a date (default: since the last digest sent, else 24h).")] = None,
           until: Annotated[str | None, typer.Option(help="Window end: an age or a date (default: now).")] = None,
           tz: Annotated[str | None, typer.Option("--tz", help="Time zone for dates (default: the subscription's, else UTC).")] = None,
           fmt: Annotated[str, typer.Option("--format", help="text, html, markdown or json.")] = "text",
           send: Annotated[bool, typer.Option("--send", help="Deliver it through the subscription now and record it.")] = False) -> None:
    """Print a digest now (nothing is sent or marked sent), or --send it.

    Example: followup digest --topics forced-labor --since 2023-03-05 --until 2023-03-08 --format markdown
    """
    check_format(fmt, FORMATS)
    ctx = open_context(db)
    now = utcnow()
    service = DigestService(ctx.db, ctx.settings, owner=worker_name())
    if send:
        if subscription is None:
            raise InvalidInputError("--send needs --subscription ID (the channel to send through)")
        if since or until or topics:
            raise InvalidInputError("--send delivers the subscription's own digest; drop --since/--until/--topics")
        outcome = service.send_now(subscription, now)
        if outcome is None:
            out.print(f"Today's digest for subscription {subscription} was already sent (or is being sent); "
                      "nothing sent.", markup=False)
        elif outcome.status == "failed":
            raise InvalidInputError(f"Sending failed: {outcome.detail} It will be retried by the scheduler.")
        else:
            out.print(f"Sent subscription {subscription}'s digest ({outcome.stories} stories): {outcome.detail}",
                      markup=False)
        return
    sub = None
    if subscription is not None:
        with ctx.db.read() as conn:
            sub = store.get_subscription(conn, subscription)
    zone_name = tz or (sub.timezone if sub else "UTC")
    schedule.zone(zone_name)
    end = parse_when(until) if until else now
    if since:
        start = parse_when(since)
    else:
        start, _ = schedule.window(end, sub.last_window_end if sub else None, ctx.settings.digest_max_window_hours)
    if start >= end:
        raise InvalidInputError("The window is empty: --since must be before --until")
    built = service.build(topics=_topics(topics) or (sub.topics if sub else None), start=start, end=end,
                          tz=zone_name, now=now)
    sys.stdout.write(render(built, fmt))
