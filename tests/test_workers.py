"""Several `followup worker` processes against one real PostgreSQL, polling a loopback feed farm
built from the real 2023 items: no feed polled twice in a cycle, no duplicate entry or match; a worker
killed with SIGKILL mid-batch loses its leases and the others finish its feeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.db import Database, upgrade
from service.models import Entry, Feed, Match
from service.store import feeds as feed_store
from service.store import topics as topic_store

from .conftest import new_pg_database, shared_data

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.postgres


@pytest.fixture
def farm_db(pg_database):  # pg_database: fails in CI / skips outside when PostgreSQL is not configured
    url, drop = new_pg_database()
    db = Database(url)
    upgrade(db)
    yield url, db
    db.dispose()
    drop()


def make_farm(n, **kw):
    shared_data()
    sys.path.insert(0, str(REPO))
    from bench.feedfarm import FeedFarm

    return FeedFarm(n, corpus_limit=20_000, **kw).start()


def prepare(db, farm):
    with db.write() as conn:
        topic_store.add_topic(conn, "korea", "Korea", "korea*")
        for i in range(farm.n):
            feed_store.add_feed(conn, farm.url(i))


def start_worker(url, tmp_path, name, lease=60):
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url, "FOLLOWUP_ALLOW_PRIVATE_HOSTS": "true",
           "FOLLOWUP_SCHEDULER_TICK_SECONDS": "1", "FOLLOWUP_FEED_LEASE_SECONDS": str(lease),
           "FOLLOWUP_PER_HOST_CONCURRENCY": "10", "FOLLOWUP_CONCURRENCY": "10", "FOLLOWUP_FETCH_TIMEOUT_SECONDS": "10"}
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed by stop_workers
    proc = subprocess.Popen([sys.executable, "-m", "service", "worker"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def stop_workers(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        p.log.close()


def wait_all_checked(db, n, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.read() as conn:
            done = conn.execute(select(func.count()).select_from(Feed.__table__)
                                .where(Feed.__table__.c.last_checked_at.is_not(None))).scalar_one()
        if done >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"only {done} of {n} feeds were polled in {timeout} s")


def articles(farm) -> int:
    """Distinct articles the farm serves: overlapping feeds serve some under two GUIDs, stored once."""
    return len({item["id"] for i in range(farm.n) if farm.kinds[i] != "malformed" for item in farm.rows(i)})


def counts(db):
    e, m = Entry.__table__, Match.__table__
    with db.read() as conn:
        return dict(
            doubled=conn.execute(select(func.count()).select_from(
                select(e.c.url, e.c.title).where(e.c.url.is_not(None)).group_by(e.c.url, e.c.title)
                .having(func.count() > 1).subquery())).scalar_one(),
            entries=conn.execute(select(func.count()).select_from(e)).scalar_one(),
            guids=conn.execute(select(func.count(func.distinct(e.c.guid)))).scalar_one(),
            matches=conn.execute(select(func.count()).select_from(m)).scalar_one(),
            match_pairs=conn.execute(select(func.count()).select_from(
                select(m.c.topic_id, m.c.entry_id).distinct().subquery())).scalar_one(),
        )


def test_three_workers_share_the_farm_without_double_polls_or_duplicates(farm_db, tmp_path):
    url, db = farm_db
    farm = make_farm(90, latency=0.05)
    try:
        prepare(db, farm)
        workers = [start_worker(url, tmp_path, f"w{n}") for n in range(3)]
        try:
            wait_all_checked(db, farm.n)
            time.sleep(2)  # a few more ticks: nothing is due again for 15 minutes
        finally:
            stop_workers(workers)
        assert set(farm.requests) == set(range(farm.n))
        assert max(farm.requests.values()) == 1, "a feed was polled twice in one cycle"
        c = counts(db)
        # Every article once: none lost, none stored twice (overlapping feeds serve some under two GUIDs).
        assert c["entries"] == c["guids"] and articles(farm) <= c["entries"] <= farm.n * farm.items
        assert c["doubled"] == 0
        assert c["matches"] == c["match_pairs"] > 0
        logs = [(tmp_path / f"w{n}.log").read_text() for n in range(3)]
        assert sum(1 for text in logs if "new entries" in text) >= 2, "the work was not shared"
    finally:
        farm.stop()


def test_a_killed_worker_loses_its_leases_and_the_others_finish(farm_db, tmp_path):
    url, db = farm_db
    farm = make_farm(30, latency=1.0)  # slow feeds: the first worker is mid-batch when it dies
    try:
        prepare(db, farm)
        victim = start_worker(url, tmp_path, "victim", lease=5)
        deadline = time.monotonic() + 30
        leased = 0
        while time.monotonic() < deadline and not leased:
            with db.read() as conn:
                leased = conn.execute(select(func.count()).select_from(Feed.__table__)
                                      .where(Feed.__table__.c.lease_owner.is_not(None),
                                             Feed.__table__.c.last_checked_at.is_(None))).scalar_one()
            time.sleep(0.1)
        assert leased, "the first worker never claimed feeds"
        time.sleep(0.5)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        victim.log.close()
        others = [start_worker(url, tmp_path, f"w{n}") for n in range(2)]
        try:
            wait_all_checked(db, farm.n, timeout=120)
        finally:
            stop_workers(others)
        c = counts(db)
        assert c["entries"] == c["guids"] and articles(farm) <= c["entries"] <= farm.n * farm.items
        assert c["doubled"] == 0  # nothing lost, nothing doubled
        assert c["matches"] == c["match_pairs"]
        with db.read() as conn:
            assert conn.execute(select(func.count()).select_from(Feed.__table__)
                                .where(Feed.__table__.c.last_error.is_not(None))).scalar_one() == 0
    finally:
        farm.stop()
