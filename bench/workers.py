"""Scaling out: 1, 2 and 4 `followup worker` processes against one PostgreSQL, polling the feed farm.

    python bench/workers.py [--feeds 2000] [--workers 1,2,4] [--meaning boost] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/followup_workers]

For each worker count: a fresh database with the seed topics plus 1,000 generated topics and `--feeds`
farm feeds (bench/feedfarm.py, in its own process, fresh per run); the workers are started and, once
they are up, every feed is made due at one instant. Measured from that instant:
  * cold cycle: until every feed has been polled once (every entry new): entries stored per second;
  * steady cycle: the farm advances (10% of the feeds publish three items, the rest answer 304), every
    feed is made due again: feeds polled per second.
This machine has 2 cores, which the workers share with PostgreSQL and the farm: the figures say how far
processes help here, not what a bigger machine would do.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text, update  # noqa: E402

from bench.ingest import RemoteFarm  # noqa: E402
from bench.match_scale import corpus_phrases, load_entries, make_topics  # noqa: E402
from bench.query import _recreate_pg_database  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db import Database, upgrade  # noqa: E402
from service.models import Entry, Feed  # noqa: E402
from service.seeds import read_topics  # noqa: E402
from service.store import feeds as feed_store  # noqa: E402
from service.store import topics as topic_store  # noqa: E402

EXTRA_ENV: dict = {}
FAR = "2100-01-01T00:00:00+00:00"


def prepare(url: str, farm: RemoteFarm, generated, meaning: str | None = None) -> Database:  # noqa: ANN001
    _recreate_pg_database(url)
    db = Database(url)
    upgrade(db)
    settings = Settings(database_url=url)
    with db.write() as conn:
        if meaning:  # bench/meaning_speed.py's topics: each described, all in this mode
            from bench.meaning_speed import add_topics

            add_topics(conn, None, meaning, generated)
        else:
            for t in read_topics(settings.seeds_dir / "topics.toml"):
                topic_store.add_topic(conn, t["slug"], t["name"], t["query"], exclude=t.get("exclude"),
                                      aliases=t.get("aliases"))
            for spec in generated:
                topic_store.add_topic(conn, spec.slug, spec.slug, spec.query)
        for i in range(farm.n):
            feed_store.add_feed(conn, farm.url(i))
        conn.execute(update(Feed.__table__).values(next_check_at=text(f"'{FAR}'")))
    return db


def start_workers(url: str, n: int, folder: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url, "FOLLOWUP_ALLOW_PRIVATE_HOSTS": "true",
           "FOLLOWUP_SCHEDULER_TICK_SECONDS": "1", "FOLLOWUP_CONCURRENCY": "20", "FOLLOWUP_PER_HOST_CONCURRENCY": "20",
           "FOLLOWUP_FETCH_TIMEOUT_SECONDS": "30", "FOLLOWUP_LOG_LEVEL": "WARNING", **EXTRA_ENV}
    procs = []
    for k in range(n):
        log = open(folder / f"worker{k}.log", "w")  # noqa: SIM115 - closed in stop()
        procs.append(subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env, cwd=folder,
                                      stdout=log, stderr=subprocess.STDOUT))
    time.sleep(6)  # imports, topic compilation, first idle tick
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def cycle(db: Database, n_feeds: int) -> float:
    """Make every feed due now; seconds until each has been polled since."""
    with db.write() as conn:
        mark = conn.execute(text("SELECT now()")).scalar()
        conn.execute(update(Feed.__table__).values(next_check_at=mark))
    started = time.perf_counter()
    while True:
        with db.read() as conn:
            done = conn.execute(select(func.count()).select_from(Feed.__table__)
                                .where(Feed.__table__.c.last_checked_at >= mark)).scalar_one()
        if done >= n_feeds:
            return time.perf_counter() - started
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/followup_workers")
    parser.add_argument("--meaning", choices=("off", "guard", "boost", "only"), default=None,
                        help="every topic described and matching by meaning in this mode (issue 14's cost)")
    args = parser.parse_args()
    # --meaning: bench/meaning_speed.py's generated topics
    entries, phrases = (50_000, 10_000) if args.meaning else (20_000, 3 * args.topics)
    generated = make_topics(corpus_phrases(load_entries(entries), phrases), args.topics) if args.topics else []
    results = []
    for n in [int(x) for x in args.workers.split(",")]:
        farm = RemoteFarm(args.feeds)
        procs: list[subprocess.Popen] = []
        try:
            with tempfile.TemporaryDirectory() as tmp:
                db = prepare(args.pg, farm, generated, args.meaning)
                procs = start_workers(args.pg, n, Path(tmp))
                cold = cycle(db, args.feeds)
                with db.read() as conn:
                    stored = conn.execute(select(func.count()).select_from(Entry.__table__)).scalar_one()
                changed = farm.advance()
                steady = cycle(db, args.feeds)
                stop(procs)
                db.dispose()
        finally:
            stop(procs)
            farm.stop()
        results.append((n, stored / cold, args.feeds / steady, changed))
        print(f"{n} worker(s): cold {stored:,} entries in {cold:.0f} s ({stored / cold:,.0f}/s); steady {args.feeds:,} "
              f"feeds ({changed} changed) in {steady:.1f} s ({args.feeds / steady:,.0f} feeds/s)", file=sys.stderr, flush=True)
    base_cold, base_steady = results[0][1], results[0][2]
    print(f"\n{args.feeds:,} farm feeds, seed + {args.topics:,} generated topics"
          + (f" matching by meaning ({args.meaning})" if args.meaning else "") + ", PostgreSQL, 2-core machine:\n")
    print("| workers | cold: entries/s | x of 1 | steady (10% changed): feeds/s | x of 1 |")
    print("|---:|---:|---:|---:|---:|")
    for n, c, s, _ in results:
        print(f"| {n} | {c:,.0f} | {c / base_cold:.2f} | {s:,.0f} | {s / base_steady:.2f} |")


if __name__ == "__main__":
    main()
