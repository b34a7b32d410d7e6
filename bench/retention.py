"""Database size under retention: replay months of real news day by day with a simulated clock.

    python bench/retention.py [--months 1-3] [--retention-days 30]

The 2023 corpus is written as one RSS file per source and day (bench/corpus.py) and ingested in date
order into a fresh SQLite database with the four seed topics, each day's files with the clock set to
that day's end (so entries are "fetched" that day); the retention job (Pipeline.prune, what the
scheduler runs every 6 hours) runs once per simulated day. Every 7 days the benchmark prints the
entries kept, the matched entries, and the database's size: its file and its live pages (SQLite reuses
freed pages rather than shrinking the file). Bounded means: after the first `--retention-days`, the
live size stops growing except for matched entries, which are kept for good. A second run with
retention off (FOLLOWUP_RETENTION_DAYS=0) gives the unbounded baseline side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.corpus import items, require_data, write_daily_feeds  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db import Database, upgrade  # noqa: E402
from service.feeds.refresh import Pipeline  # noqa: E402
from service.models import Entry, Match  # noqa: E402
from service.seeds import read_topics  # noqa: E402
from service.store import topics as topic_store  # noqa: E402


def run(paths: list[Path], folder: Path, retention_days: float) -> list[tuple]:
    url = f"sqlite:///{folder / 'month.db'}"
    settings = Settings(database_url=url, retention_days=retention_days)
    db = Database(url)
    upgrade(db)
    with db.write() as conn:
        for t in read_topics(settings.seeds_dir / "topics.toml"):
            topic_store.add_topic(conn, t["slug"], t["name"], t["query"], exclude=t.get("exclude"), aliases=t.get("aliases"))
    pipeline = Pipeline(db, settings)
    by_day: dict[str, list[Path]] = {}
    for p in paths:
        by_day.setdefault(p.name[:10], []).append(p)
    rows = []
    for n, day in enumerate(sorted(by_day), start=1):
        end = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(hours=23, minutes=59)
        for p in by_day[day]:
            pipeline.ingest_file(p, now=end)
        pipeline.prune(now=end)
        if n % 7 == 0 or n == len(by_day):
            with db.read() as conn:
                kept = conn.execute(select(func.count()).select_from(Entry.__table__)).scalar_one()
                matched = conn.execute(select(func.count(func.distinct(Match.__table__.c.entry_id)))).scalar_one()
                pages, free, size = (conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                                     ("page_count", "freelist_count", "page_size"))
            db_file = folder / "month.db"
            rows.append((day, n, kept, matched, db_file.stat().st_size / 2**20, (pages - free) * size / 2**20))
            print(f"  day {n:3d} {day}: {kept:,} entries ({matched:,} matched), file {rows[-1][4]:.1f} MB, "
                  f"live {rows[-1][5]:.1f} MB", file=sys.stderr, flush=True)
    db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", default="1-3")
    parser.add_argument("--retention-days", type=float, default=30)
    args = parser.parse_args()
    require_data()
    first, _, last = args.months.partition("-")
    months = set(range(int(first), int(last or first) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_daily_feeds(items(months=months), Path(tmp) / "feeds")
        results = {}
        for days in (args.retention_days, 0):
            folder = Path(tmp) / f"r{days:g}"
            folder.mkdir()
            started = time.perf_counter()
            print(f"retention {days:g} days:", file=sys.stderr, flush=True)
            results[days] = run(paths, folder, days)
            print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    print(f"\nSimulated months {args.months} of 2023 ({len(paths):,} source-day files), SQLite, seed topics:\n")
    print("| day | entries kept | matched | live MB | file MB | without retention: entries | live MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for a, b in zip(results[args.retention_days], results[0]):
        print(f"| {a[1]} ({a[0]}) | {a[2]:,} | {a[3]:,} | {a[5]:.1f} | {a[4]:.1f} | {b[2]:,} | {b[5]:.1f} |")


if __name__ == "__main__":
    main()
