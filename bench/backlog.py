"""Re-matching a topic's backlog (`topics add`, `topics edit --query`, a backtest) with the screen that skips
entries no topic literal occurs in (`Matcher.could_match`), against the same work without it, side by side.

    python bench/backlog.py [--month 3] [--db URL] [--repeats 3]

Without --db, one month of the real 2023 corpus is written as RSS files and ingested (seed topics, story
clustering off) into a fresh SQLite database. Then each seed topic and three typed topics are re-matched
(`match_backlog(..., replace=True)`, what an edited query does, development placement included), alternating
screen on and off, median of --repeats: seconds per topic and the ratio. Exits with an error if the screen
changes any topic's matches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, items, require_data, write_feeds  # noqa: E402

TYPED = {"credit-suisse": '"credit suisse" OR ubs', "ukraine-drones": "ukrain* NEAR/5 (drone* OR missile*)",
         "central-banks": '"central bank*" OR "federal reserve" OR fed'}


def build(month: int, folder: Path) -> str:
    url = f"sqlite:///{folder / 'backlog.db'}"
    feeds = folder / "feeds"
    write_feeds(items(months={month}), feeds)
    env = {**os.environ, "FOLLOWUP_CLUSTER_STORIES": "false"}
    for args in (["seed"], ["ingest", str(feeds)]):
        subprocess.run([sys.executable, "-m", "service", *args, "--db", url], cwd=REPO, env=env, check=True,
                       capture_output=True)
    return url


def matched(db, slug: str) -> set[int]:  # noqa: ANN001
    from sqlalchemy import text

    with db.read() as conn:
        return set(conn.execute(text("SELECT m.entry_id FROM matches m JOIN topics t ON t.id = m.topic_id "
                                     "WHERE t.slug = :slug"), {"slug": slug}).scalars())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--month", type=int, default=3)
    parser.add_argument("--db")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            url = args.db
        else:
            require_data()
            print(f"Ingesting month {args.month} ...", flush=True)
            url = build(args.month, Path(tmp))
        from service.db import Database
        from service.feeds.refresh import match_backlog
        from service.store import entries as entry_store
        from service.topics import manage
        from service.topics.compile import Matcher

        db = Database(url)
        with db.read() as conn:
            stored = sum(len(rows) for rows in entry_store.iter_entries(conn))
        for slug, query in TYPED.items():
            if not manage.slug_taken(db, slug):
                manage.create_topic(db, slug, slug, query, backlog=False)
        with db.read() as conn:
            from service.store import topics as topic_store

            slugs = [t.slug for t in topic_store.list_topics(conn)]
        screened = Matcher.could_match
        print(f"{stored:,} stored entries; seconds to re-match one topic, median of {args.repeats}")
        print("| topic | matches | without the screen | with it | ratio |\n|---|---:|---:|---:|---:|")
        for slug in slugs:
            times: dict[bool, list[float]] = {True: [], False: []}
            found: dict[bool, set[int]] = {}
            for _ in range(args.repeats):
                for on in (False, True):
                    Matcher.could_match = screened if on else (lambda self, *a, **k: True)
                    started = time.perf_counter()
                    match_backlog(db, slug, replace=True)
                    times[on].append(time.perf_counter() - started)
                    found[on] = matched(db, slug)
            Matcher.could_match = screened
            if found[True] != found[False]:
                sys.exit(f"{slug}: the screen changed the matches ({len(found[False])} without, {len(found[True])} with)")
            off, on = statistics.median(times[False]), statistics.median(times[True])
            print(f"| {slug} | {len(found[True])} | {off:.2f} | {on:.2f} | {off / on:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
