"""Subscriptions, the digest_runs ledger (claim → send → finish, exactly once per period), and the
rows a digest is built from."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, and_, delete, func, or_, select, update

from ..errors import NotFoundError
from ..models import DigestRun, Entry, Feed, Match, Story, Subscription, Topic
from ._sql import insert

subscriptions = Subscription.__table__
runs = DigestRun.__table__
entries = Entry.__table__
matches = Match.__table__
topics = Topic.__table__
feeds = Feed.__table__
stories = Story.__table__

# An entry published a little before the window but fetched inside it arrived late (a feed that
# updates slowly, a host that was down): it belongs to this digest, not to none.
LATE_ARRIVAL = timedelta(hours=48)


# -- subscriptions ----------------------------------------------------------------------------
def add_subscription(conn: Connection, *, channel: str, target: str, topics_: list[str] | None, send_at: str,
                     tz: str, fmt: str, now: datetime, skip_empty: bool = False) -> Row:
    stmt = subscriptions.insert().values(channel=channel, target=target, topics=topics_, send_at=send_at,
                                         timezone=tz, format=fmt, paused=False, created_at=now, skip_empty=skip_empty)
    new_id = conn.execute(stmt.returning(subscriptions.c.id)).scalar_one()
    return get_subscription(conn, new_id)


def get_subscription(conn: Connection, sub_id: int) -> Row:
    row = conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).first()
    if row is None:
        raise NotFoundError(f"No subscription {sub_id} (see `followup subscriptions list`)")
    return row


def list_subscriptions(conn: Connection, *, active_only: bool = False) -> list[Row]:
    stmt = select(subscriptions).order_by(subscriptions.c.id)
    if active_only:
        stmt = stmt.where(subscriptions.c.paused.is_(False))
    return list(conn.execute(stmt))


def remove_subscription(conn: Connection, sub_id: int) -> Row:
    row = get_subscription(conn, sub_id)
    conn.execute(delete(runs).where(runs.c.subscription_id == sub_id))
    conn.execute(delete(subscriptions).where(subscriptions.c.id == sub_id))
    return row


def set_paused(conn: Connection, sub_id: int, paused: bool) -> Row:
    get_subscription(conn, sub_id)
    conn.execute(update(subscriptions).where(subscriptions.c.id == sub_id).values(paused=paused))
    return get_subscription(conn, sub_id)


# -- the ledger -------------------------------------------------------------------------------
def get_run(conn: Connection, sub_id: int, period: str) -> Row | None:
    return conn.execute(select(runs).where(runs.c.subscription_id == sub_id, runs.c.period == period)).first()


def claim_run(conn: Connection, sub_id: int, period: str, *, owner: str, now: datetime, lease: timedelta,
              window: tuple[datetime, datetime], max_attempts: int) -> Row | None:
    """Reserve (subscription, period) for `owner`, or None if it is sent, being sent by someone whose
    lease still holds, or waiting for its retry time. A new period inserts its row (the unique key
    decides between two schedulers); a failed run whose backoff has passed, or a claimed run whose
    sender died (lease expired), is taken over with a conditional UPDATE. The window is fixed at the
    first claim, so a retry delivers the same digest."""
    start, end = window
    fresh = (insert(conn, runs)
             .values(subscription_id=sub_id, period=period, status="claimed", owner=owner, lease_until=now + lease,
                     attempts=1, window_start=start, window_end=end, created_at=now)
             .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
             .returning(runs.c.id))
    if conn.execute(fresh).first() is not None:
        return get_run(conn, sub_id, period)
    retry = (update(runs)
             .where(runs.c.subscription_id == sub_id, runs.c.period == period,
                    or_(and_(runs.c.status == "failed", runs.c.next_attempt_at <= now, runs.c.attempts < max_attempts),
                        and_(runs.c.status == "claimed", runs.c.lease_until < now)))
             .values(status="claimed", owner=owner, lease_until=now + lease, attempts=runs.c.attempts + 1)
             .returning(runs.c.id))
    if conn.execute(retry).first() is not None:
        return get_run(conn, sub_id, period)
    return None


def finish_run(conn: Connection, run_id: int, *, owner: str, now: datetime, stories_: int,
               body_html: str | None = None, status: str = "sent") -> bool:
    """Mark a claimed run sent (keeping the digest as sent, for the archive) or skipped (nothing new and
    the subscription skips empty digests), if it is still this owner's; then advance the subscription."""
    done = conn.execute(update(runs).where(runs.c.id == run_id, runs.c.owner == owner, runs.c.status == "claimed")
                        .values(status=status, sent_at=now, stories=stories_, error=None, lease_until=None,
                                body_html=body_html)
                        .returning(runs.c.subscription_id, runs.c.window_end)).first()
    if done is None:
        return False
    values = dict(last_window_end=done.window_end, last_status=status, last_error=None)
    if status == "sent":
        values["last_sent_at"] = now
    conn.execute(update(subscriptions).where(subscriptions.c.id == done.subscription_id).values(**values))
    return True


def archive(conn: Connection, *, limit: int = 100) -> list[Row]:
    """Digests as sent, newest first (without their bodies)."""
    return list(conn.execute(
        select(runs.c.id, runs.c.subscription_id, runs.c.period, runs.c.sent_at, runs.c.stories, subscriptions.c.channel,
               subscriptions.c.target)
        .join(subscriptions, subscriptions.c.id == runs.c.subscription_id)
        .where(runs.c.status == "sent", runs.c.body_html.is_not(None))
        .order_by(runs.c.sent_at.desc(), runs.c.id.desc()).limit(limit)))


def archived(conn: Connection, run_id: int) -> Row:
    row = conn.execute(select(runs.c.id, runs.c.period, runs.c.body_html, runs.c.sent_at)
                       .where(runs.c.id == run_id, runs.c.status == "sent", runs.c.body_html.is_not(None))).first()
    if row is None:
        raise NotFoundError(f"No archived digest {run_id}")
    return row


def fail_run(conn: Connection, run_id: int, *, owner: str, error: str, retry_at: datetime) -> None:
    row = conn.execute(update(runs).where(runs.c.id == run_id, runs.c.owner == owner)
                       .values(status="failed", error=error, next_attempt_at=retry_at, lease_until=None)
                       .returning(runs.c.subscription_id)).first()
    if row is not None:
        conn.execute(update(subscriptions).where(subscriptions.c.id == row.subscription_id)
                     .values(last_status="failed", last_error=error))


def recent_runs(conn: Connection, sub_id: int, limit: int = 10) -> list[Row]:
    return list(conn.execute(select(runs).where(runs.c.subscription_id == sub_id)
                             .order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)))


# -- content ----------------------------------------------------------------------------------
def digest_topics(conn: Connection, slugs: list[str] | None) -> list[Row]:
    """The topics a digest covers: the named ones (in that order; unknown names are an error), or all
    active topics."""
    if not slugs:
        return list(conn.execute(select(topics.c.slug, topics.c.name).where(topics.c.active.is_(True))
                                 .order_by(topics.c.slug)))
    found = {r.slug: r for r in conn.execute(select(topics.c.slug, topics.c.name).where(topics.c.slug.in_(slugs)))}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise NotFoundError(f"No topic {', '.join(repr(m) for m in missing)} (see `followup topics list`)")
    return [found[s] for s in slugs]


def digest_rows(conn: Connection, slugs: list[str], start: datetime, end: datetime) -> list[Row]:
    """Matched entries of these topics that are new in [start, end): published in it, or fetched in it
    having been published shortly before (late arrivals). With their story and feed."""
    in_window = or_(
        and_(entries.c.published_at >= start, entries.c.published_at < end),
        and_(entries.c.fetched_at >= start, entries.c.fetched_at < end,
             entries.c.published_at >= start - LATE_ARRIVAL, entries.c.published_at < start),
    )
    stmt = (
        select(topics.c.slug.label("topic"), topics.c.id.label("topic_id"), matches.c.development_id,
               matches.c.score, entries.c.id.label("entry_id"), entries.c.title, entries.c.language,
               entries.c.summary, entries.c.url, entries.c.published_at, entries.c.story_id,
               func.coalesce(feeds.c.title, entries.c.source, feeds.c.url).label("feed"),
               stories.c.first_seen.label("story_first_seen"), stories.c.last_seen.label("story_last_seen"),
               stories.c.source_count.label("story_outlets"), stories.c.entry_count.label("story_entries"))
        .select_from(matches.join(topics, topics.c.id == matches.c.topic_id)
                     .join(entries, entries.c.id == matches.c.entry_id)
                     .outerjoin(feeds, feeds.c.id == entries.c.feed_id)
                     .outerjoin(stories, stories.c.id == entries.c.story_id))
        .where(topics.c.slug.in_(slugs), in_window)
        .order_by(entries.c.published_at, entries.c.id)
    )
    return list(conn.execute(stmt))


def development_first_seen(conn: Connection, rows: list[Row]) -> dict[tuple[str, int], datetime]:
    """(topic, development) -> its first entry's publication time, for the developments of digest rows:
    a development is *new* in a digest when its first entry falls in the window."""
    from . import developments

    slugs = {r.topic_id: r.topic for r in rows}
    firsts = developments.development_first_seen(
        conn, [(r.topic_id, r.development_id) for r in rows if r.development_id is not None])
    return {(slugs[t], d): when for (t, d), when in firsts.items()}
