"""Replay months of the real 2023 corpus day by day and print the seed topics' timelines.

    python bench/replay.py [--months 1-6] [--keep DIR] [--topic forced-labor ...]

The items are written as one RSS file per source and day (bench/corpus.py: write_daily_feeds) and
ingested with `followup ingest` in date order into a fresh SQLite database, so stories form the way
polling would see them; then `followup timeline SLUG` is printed for each topic over the replayed
months. This is the end-to-end check of docs/stories.md: do the timelines read like
../shared/data/timeline.md?
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

from bench.corpus import REPO, TOPIC_LABELS, items, require_data, write_daily_feeds  # noqa: E402


def followup(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "service", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "140"})
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", default="1-6", help="months of 2023 to replay, e.g. 3 or 1-6")
    parser.add_argument("--topic", action="append", help="topic slug(s) to print (default: the four seeds)")
    parser.add_argument("--keep", type=Path, help="keep the database in this folder")
    args = parser.parse_args()
    require_data()
    first, _, last = args.months.partition("-")
    months = set(range(int(first), int(last or first) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{work / 'replay.db'}"
        paths = write_daily_feeds(items(months=months), work / "feeds")
        followup("seed", "--db", db)  # the seed topics, so entries are matched as they arrive
        started = time.perf_counter()
        followup("ingest", str(work / "feeds"), "--db", db)
        print(f"Replayed {len(paths):,} source-day files of 2023 months {args.months} in "
              f"{time.perf_counter() - started:.0f} s.\n")
        since, until = f"2023-{min(months):02d}-01", f"2023-{max(months) + 1:02d}-01" if max(months) < 12 else "2024-01-01"
        for slug in args.topic or list(TOPIC_LABELS):
            print(followup("timeline", slug, "--since", since, "--until", until, "--db", db))


if __name__ == "__main__":
    main()
