"""Instant alerts: their definitions, and the log that keeps each development from being pushed twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, delete, select, tuple_, update

from ..errors import NotFoundError
from ..models import Alert, AlertSent, Match, Topic
from ._sql import aware, chunks, insert
from .developments import development_stats

alerts = Alert.__table__
log = AlertSent.__table__
matches = Match.__table__
topics = Topic.__table__


def add_alert(conn: Connection, *, url: str, topic_id: int | None, trigger: str, min_outlets: int | None,
              now: datetime) -> Row:
    new_id = conn.execute(alerts.insert().values(url=url, topic_id=topic_id, trigger=trigger, min_outlets=min_outlets,
                                                 paused=False, created_at=now, active_since=now)
                          .returning(alerts.c.id)).scalar_one()
    return get_alert(conn, new_id)


def _listing():  # noqa: ANN202
    return select(alerts, topics.c.slug.label("topic")).outerjoin(topics, topics.c.id == alerts.c.topic_id)


def get_alert(conn: Connection, alert_id: int) -> Row:
    row = conn.execute(_listing().where(alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFoundError(f"No alert {alert_id} (see `followup alerts list`)")
    return row


def list_alerts(conn: Connection, *, active_only: bool = False) -> list[Row]:
    stmt = _listing().order_by(alerts.c.id)
    if active_only:
        stmt = stmt.where(alerts.c.paused.is_(False))
    return list(conn.execute(stmt))


def remove_alert(conn: Connection, alert_id: int) -> Row:
    row = get_alert(conn, alert_id)
    conn.execute(delete(log).where(log.c.alert_id == alert_id))
    conn.execute(delete(alerts).where(alerts.c.id == alert_id))
    return row


def set_paused(conn: Connection, alert_id: int, paused: bool) -> Row:
    """Pause, or resume: what was matched while paused is not pushed afterwards."""
    row = get_alert(conn, alert_id)
    values: dict = {"paused": paused}
    if not paused and row.paused:
        from ..models import utcnow

        values["active_since"] = utcnow()
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
    return get_alert(conn, alert_id)


def record(conn: Connection, alert_id: int, *, sent_at: datetime | None = None, error: str | None = None) -> None:
    values = {"last_error": error}
    if sent_at is not None:
        values["last_sent_at"] = sent_at
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))


def candidates(conn: Connection, alert: Row, *, since: datetime) -> list[Row]:
    """The developments this alert should push and has not: those with an entry published since `since`
    and first matched while the alert was active (since its creation or last resume; a re-match keeps
    each match's first time), that are new (first entry since `since`) or have reached the alert's number
    of outlets. Oldest first; one event on several topics once (a development's id is its first entry's)."""
    touched = (select(matches.c.topic_id, matches.c.development_id)
               .where(matches.c.published_at >= since, matches.c.matched_at >= alert.active_since,
                      matches.c.development_id.is_not(None)))
    if alert.topic_id is not None:
        touched = touched.where(matches.c.topic_id == alert.topic_id)
    pairs = sorted({(r.topic_id, r.development_id) for r in conn.execute(touched.distinct())})
    sent: set[int] = set()  # of these developments (the log grows for good; the window does not)
    for batch in chunks(sorted({d for _, d in pairs}), 800):
        sent.update(conn.execute(select(log.c.development_id).where(log.c.alert_id == alert.id,
                                                                  log.c.development_id.in_(batch))).scalars())
    rows = []
    for batch in chunks(pairs, 400):  # two parameters a pair: under SQLite's variable limit
        rows += conn.execute(development_stats()
                             .where(tuple_(matches.c.topic_id, matches.c.development_id).in_(batch))).all()
    out = []
    for r in sorted(rows, key=lambda r: (r.development_id, r.topic_id)):
        if r.development_id in sent:  # pushed already, or the same event on another topic this cycle
            continue
        if alert.trigger == "new" and aware(r.first) >= since or \
                alert.trigger == "outlets" and r.outlets >= (alert.min_outlets or 1):
            out.append(r)
            sent.add(r.development_id)
    return sorted(out, key=lambda r: (aware(r.first), r.development_id))


def claim(conn: Connection, alert_id: int, topic_id: int, development_id: int, now: datetime) -> bool:
    """Write the log row before pushing: False when it is there already (another worker, an earlier cycle)."""
    stmt = insert(conn, log).values(alert_id=alert_id, topic_id=topic_id, development_id=development_id, sent_at=now)
    inserted = stmt.on_conflict_do_nothing(index_elements=["alert_id", "development_id"]).returning(log.c.id)
    return conn.execute(inserted).first() is not None


def carry_over(conn: Connection, merged: list[tuple[int, int]]) -> None:
    """Developments merged (absorbed id, into id; service/stories/develop.py): an alert that pushed the
    absorbed one has pushed the event, and does not push the merged one again as it grows."""
    for absorbed, into in merged:
        for r in conn.execute(select(log.c.alert_id, log.c.topic_id, log.c.sent_at, log.c.retry_targets,
                                     log.c.retries, log.c.retry_at)
                              .where(log.c.development_id == absorbed)).all():
            # Targets still to be tried get the merged development instead (the absorbed one is gone): the
            # retry moves, so the same event is not tried twice.
            conn.execute(insert(conn, log).values(alert_id=r.alert_id, topic_id=r.topic_id, development_id=into,
                                                  sent_at=r.sent_at, retry_targets=r.retry_targets,
                                                  retries=r.retries, retry_at=r.retry_at)
                         .on_conflict_do_nothing(index_elements=["alert_id", "development_id"]))
        conn.execute(update(log).where(log.c.development_id == absorbed, log.c.retry_at.is_not(None))
                     .values(retry_targets=None, retry_at=None))


def set_retry(conn: Connection, alert_id: int, development_id: int, targets: list[int] | None, *,
              retries: int, retry_at: datetime | None, leased: datetime | None = None) -> bool:
    """Keep the targets of a push that failed to try them again at `retry_at` (None: nothing left to try).
    With `leased` (the lease `claim_retry` took), only while this process still holds it: False when the
    lease ran out and another process took the retry over (its outcome stands)."""
    stmt = update(log).where(log.c.alert_id == alert_id, log.c.development_id == development_id)
    if leased is not None:
        stmt = stmt.where(log.c.retry_at == leased)
    done = conn.execute(stmt.values(retry_targets=",".join(map(str, targets)) if targets else None, retries=retries,
                                    retry_at=retry_at if targets else None))
    return done.rowcount == 1


def retries_due(conn: Connection, alert_id: int, now: datetime) -> list[Row]:
    """Log rows whose failed targets are due to be tried again, oldest first; `targets` as positions."""
    return conn.execute(select(log.c.topic_id, log.c.development_id, log.c.retry_targets, log.c.retries,
                               log.c.retry_at, log.c.sent_at)
                        .where(log.c.alert_id == alert_id, log.c.retry_at.is_not(None), log.c.retry_at <= now)
                        .order_by(log.c.retry_at, log.c.id)).all()


def claim_retry(conn: Connection, row: Row, alert_id: int, until: datetime) -> bool:
    """Take a due retry (a row of `retries_due`) for this process until `until`: False when another
    process took it first (its `retry_at` moved)."""
    taken = conn.execute(update(log).where(log.c.alert_id == alert_id, log.c.development_id == row.development_id,
                                           log.c.retry_at == row.retry_at).values(retry_at=until))
    return taken.rowcount == 1


def development_row(conn: Connection, topic_id: int, development_id: int) -> Row | None:
    """One development's stats as `candidates` gives them (for a retried push's message)."""
    return conn.execute(development_stats().where(matches.c.topic_id == topic_id,
                                                  matches.c.development_id == development_id)).first()


def release(conn: Connection, alert_id: int, development_id: int) -> None:
    """A push that failed: take the claim back so the next cycle tries again."""
    conn.execute(delete(log).where(log.c.alert_id == alert_id, log.c.development_id == development_id))
