"""Exactly once per subscription and period, with a controllable clock, on SQLite and PostgreSQL:
two schedulers against one database, a DST fall-back night, a crash between claim and send, catch-up
after downtime, and `followup digest --send` against the scheduler."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from service.db import Database
from service.digest.deliver import deliver
from service.digest.runner import DigestService
from service.store import digests as store

from .test_delivery import subscribe

UTC = timezone.utc


class Counting:
    """The real folder channel, counting what was delivered (the thing that must happen once)."""

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def __call__(self, settings, digest, channel, target, sub_id, on_accepted=None):
        with self.lock:
            self.sent.append((sub_id, digest.period, digest.window_start, digest.window_end))
        return deliver(settings, digest, channel, target, sub_id, on_accepted=on_accepted)


def test_two_schedulers_at_the_same_instant_send_once(digest_db, tmp_path):
    db, settings = digest_db
    sub_id = subscribe(db, "dir", str(tmp_path / "out"))
    now = datetime(2023, 3, 6, 22, 0, 5, tzinfo=UTC)
    counting = Counting()
    # Two processes' worth: separate engines (connection pools), separate owners.
    dbs = [Database(str(db.engine.url.render_as_string(hide_password=False))) for _ in range(2)]
    services = [DigestService(d, settings, owner=f"scheduler-{n}", deliverer=counting) for n, d in enumerate(dbs)]
    barrier = threading.Barrier(2)
    results = []

    def run(svc):
        barrier.wait()
        for _ in range(5):  # and keep ticking, as a scheduler does
            results.extend(svc.tick(now))

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dbs:
        d.dispose()
    assert len(counting.sent) == 1 and [r.status for r in results] == ["sent"]
    with db.read() as conn:
        (run,) = store.recent_runs(conn, sub_id)
    assert run.status == "sent" and run.period == "2023-03-07"


def test_a_dst_fall_back_night_sends_once(digest_db, tmp_path):
    db, settings = digest_db
    subscribe(db, "dir", str(tmp_path / "out"), at="01:30", tz="America/New_York", last_window_end=None)
    counting = Counting()
    svc = DigestService(db, settings, owner="s", deliverer=counting)
    # 2026-11-01 01:30 EDT (05:30 UTC), then the clock falls back and 01:30 EST (06:30 UTC) comes again.
    for now in (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
                datetime(2026, 11, 1, 6, 31, tzinfo=UTC)):
        svc.tick(now)
    assert [period for _, period, _, _ in counting.sent] == ["2026-11-01"]
    svc.tick(datetime(2026, 11, 2, 6, 30, tzinfo=UTC))  # 01:30 EST the next night: the next period
    assert [period for _, period, _, _ in counting.sent] == ["2026-11-01", "2026-11-02"]


def test_a_crash_between_claim_and_send_is_retried_never_duplicated(digest_db, tmp_path):
    db, settings = digest_db
    sub_id = subscribe(db, "dir", str(tmp_path / "out"))
    now = datetime(2023, 3, 6, 22, 0, 5, tzinfo=UTC)
    lease = timedelta(seconds=settings.digest_lease_seconds)
    # Scheduler A claims the period and dies before sending.
    with db.write() as conn:
        assert store.claim_run(conn, sub_id, "2023-03-07", owner="a", now=now, lease=lease,
                               window=(now - timedelta(hours=24), now), max_attempts=6) is not None
    counting = Counting()
    b = DigestService(db, settings, owner="b", deliverer=counting)
    assert b.tick(now + timedelta(minutes=1)) == []  # A's lease still holds: B must not send
    (outcome,) = b.tick(now + lease + timedelta(seconds=1))  # A is presumed dead: B takes over
    assert outcome.status == "sent" and len(counting.sent) == 1
    # The digest B sent is the one A claimed (same window), and nothing is sent again afterwards.
    assert counting.sent[0][2:] == (now - timedelta(hours=24), now)
    assert b.tick(now + lease + timedelta(minutes=5)) == []
    with db.read() as conn:
        run = store.get_run(conn, sub_id, "2023-03-07")
    assert run.status == "sent" and run.owner == "b" and run.attempts == 2
    # A comes back and tries to record its (never made) send: the ledger refuses it.
    with db.write() as conn:
        assert store.finish_run(conn, run.id, owner="a", now=now, stories_=0) is False


def test_catch_up_after_downtime_sends_one_digest_covering_the_gap(digest_db, tmp_path):
    db, settings = digest_db
    sub_id = subscribe(db, "dir", str(tmp_path / "out"), last_window_end=None)
    counting = Counting()
    svc = DigestService(db, settings, owner="s", deliverer=counting)
    first = datetime(2023, 3, 2, 22, 0, 10, tzinfo=UTC)  # 07:00 Seoul, 3 March
    svc.tick(first)
    assert [p for _, p, _, _ in counting.sent] == ["2023-03-03"]
    assert counting.sent[0][2] == first - timedelta(hours=24)  # the first digest covers 24 h
    # Down from then until 3 hours after the send time of 7 March: one digest, covering 3–7 March.
    back = datetime(2023, 3, 7, 1, 0, tzinfo=UTC)
    (outcome,) = svc.tick(back)
    assert outcome.status == "sent"
    assert [p for _, p, _, _ in counting.sent] == ["2023-03-03", "2023-03-07"]
    assert counting.sent[1][2:] == (first, back)
    assert outcome.stories > 0  # the 6 March plan is in the gap
    assert svc.tick(back + timedelta(hours=1)) == []
    with db.read() as conn:
        assert [r.period for r in store.recent_runs(conn, sub_id)] == ["2023-03-07", "2023-03-03"]


def test_paused_subscriptions_are_skipped_and_the_window_is_capped(digest_db, tmp_path):
    db, settings = digest_db
    sub_id = subscribe(db, "dir", str(tmp_path / "out"), last_window_end=datetime(2022, 1, 1, tzinfo=UTC))
    counting = Counting()
    svc = DigestService(db, settings, owner="s", deliverer=counting)
    with db.write() as conn:
        store.set_paused(conn, sub_id, True)
    now = datetime(2023, 3, 6, 22, 0, 5, tzinfo=UTC)
    assert svc.tick(now) == [] and counting.sent == []
    with db.write() as conn:
        store.set_paused(conn, sub_id, False)
    svc.tick(now)
    assert counting.sent[0][2] == now - timedelta(hours=settings.digest_max_window_hours)


def test_the_scheduler_sends_a_missed_digest_at_start_up(digest_db, tmp_path):
    """`followup run`'s first digest tick is the catch-up: a subscription whose send time passed while
    nothing was running gets its digest now, once."""
    import asyncio

    from service.scheduler import Service

    db, settings = digest_db
    sub_id = subscribe(db, "dir", str(tmp_path / "out"), at="00:00", tz="UTC")
    reports = []
    service = Service(db, settings, report=reports.append)
    asyncio.run(service.digest_tick())
    asyncio.run(service.digest_tick())
    assert len(list((tmp_path / "out").glob("*.html"))) == 1
    assert [r for r in reports if r.startswith("Digest sent")] == [reports[0]] and f"subscription {sub_id}" in reports[0]
