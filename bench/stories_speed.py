"""Ingest speed with and without story clustering, on one month of the real 2023 corpus.

    python bench/stories_speed.py [--month 3] [--repeats 2] [--keep DIR]

The month's items are written as RSS files (one per source and 500 items) and ingested with
`followup ingest` into a fresh SQLite database, once with FOLLOWUP_CLUSTER_STORIES=true and once with
false, alternating, `--repeats` times; each figure is the median. With --keep, the clustered database
is left in DIR for `followup timeline` / `followup stories`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, items, require_data, write_feeds  # noqa: E402


def ingest(feeds: Path, db_path: Path, cluster: bool) -> float:
    env = {**os.environ, "FOLLOWUP_CLUSTER_STORIES": "true" if cluster else "false"}
    cmd = [sys.executable, "-m", "service", "ingest", str(feeds), "--db", f"sqlite:///{db_path}"]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    print(done.stdout.strip(), file=sys.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--month", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="leave the clustered database here")
    args = parser.parse_args()
    require_data()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = list(items(months={args.month}))
        write_feeds(iter(rows), work / "feeds")
        times: dict[bool, list[float]] = {True: [], False: []}
        for r in range(args.repeats):
            for cluster in (False, True):
                db_path = work / f"run-{cluster}.db"
                for stale in (db_path, db_path.with_name(db_path.name + "-wal")):
                    stale.unlink(missing_ok=True)
                subprocess.run([sys.executable, "-m", "service", "seed", "--db", f"sqlite:///{db_path}"],
                               cwd=REPO, check=True, capture_output=True)
                times[cluster].append(ingest(work / "feeds", db_path, cluster))
            print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(work / "run-True.db", args.keep / "stories.db")
    n = len(rows)
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    print(f"`followup ingest` of {n:,} real items (2023-{args.month:02d}), median of {args.repeats} runs each, alternating:\n")
    print("| clustering | seconds | entries/s |")
    print("|---|---:|---:|")
    print(f"| off | {without:.1f} | {n / without:,.0f} |")
    print(f"| on | {with_:.1f} | {n / with_:,.0f} |")
    print(f"\nWith clustering, ingest runs at {without / with_:.2f}x the speed without it "
          f"(clustering adds {100 * (with_ - without) / without:.0f}% to ingest time).")


if __name__ == "__main__":
    main()
