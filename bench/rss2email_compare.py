"""Followup against rss2email (a real peer built on feedparser) on the same feed farm, same machine, same run.

    python3 -m venv /tmp/r2e && /tmp/r2e/bin/pip install rss2email==3.14
    python bench/rss2email_compare.py [--feeds 2000] [--latency 0.1] [--r2e /tmp/r2e/bin/r2e]

Both poll the same farm (bench/feedfarm.py, in its own process) twice: a first cycle in which every
entry is new, then — after the farm advances one cycle (10% of the feeds publish) — a second cycle of
conditional requests. rss2email runs `r2e run --no-send` (one feed after another, as it does); Followup
runs its poll loop (concurrent fetches, one writer) into a fresh SQLite database with the seed topics.
Reported: feeds per second for each, and the ratio (issue 7's target: Followup >= 10x rss2email).
`--latency` makes the farm wait that long before each response, as a server across the internet does
(loopback answers in about a millisecond, which hides what concurrent polling is for).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import RemoteFarm, fresh_db  # noqa: E402
from service.feeds.refresh import Pipeline  # noqa: E402


def r2e_cycle(r2e: str, folder: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([r2e, "-c", str(folder / "cfg"), "-d", str(folder / "data.json"), "run", "--no-send"],
                          capture_output=True, text=True, cwd=folder)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"r2e failed: {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--r2e", default=os.environ.get("FOLLOWUP_R2E", "/tmp/r2e/bin/r2e"))
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the farm waits before each response")
    args = parser.parse_args()
    if not Path(args.r2e).exists():
        raise SystemExit(f"rss2email is not at {args.r2e}; see this file's docstring to install it")
    n = args.feeds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        r2e_dir, fu_dir = folder / "r2e", folder / "followup"
        r2e_dir.mkdir()
        fu_dir.mkdir()
        farm_a, farm_b = RemoteFarm(n, latency=args.latency), RemoteFarm(n, latency=args.latency)  # one per tool
        try:
            subprocess.run([args.r2e, "-c", str(r2e_dir / "cfg"), "-d", str(r2e_dir / "data.json"), "new",
                            "bench@example.org"], check=True, capture_output=True)
            with open(r2e_dir / "cfg", "a", encoding="utf-8") as cfg:
                for i in range(n):
                    cfg.write(f"\n[feed.farm{i}]\nurl = {farm_a.url(i)}\n")
            db, settings = fresh_db(fu_dir, farm_b, 0)
            pipeline = Pipeline(db, settings)
            results = {}
            for cycle in ("first (all new)", "second (10% changed, conditional requests)"):
                r2e_seconds = r2e_cycle(args.r2e, r2e_dir)
                started = time.perf_counter()
                asyncio.run(pipeline.poll(include_not_due=True))
                fu_seconds = time.perf_counter() - started
                results[cycle] = (n / r2e_seconds, n / fu_seconds)
                print(f"{cycle}: rss2email {r2e_seconds:.1f} s, Followup {fu_seconds:.1f} s", file=sys.stderr, flush=True)
                farm_a.advance()
                farm_b.advance()
            db.dispose()
        finally:
            farm_a.stop()
            farm_b.stop()
    print(f"\n{n:,} farm feeds × 20 items, {args.latency * 1000:g} ms before each response, one process each, "
          "same machine, same run:\n")
    print("| cycle | rss2email feeds/s | Followup feeds/s | Followup / rss2email |")
    print("|---|---:|---:|---:|")
    for cycle, (r, f) in results.items():
        print(f"| {cycle} | {r:,.1f} | {f:,.1f} | {f / r:.2f}x |")
    worst = min(f / r for r, f in results.values())
    print(f"\nTarget (issue 7): Followup >= 10x rss2email's feeds/s: {'met' if worst >= 10 else 'NOT met'} "
          f"(lowest ratio {worst:.2f}x). Why, and the runs with and without latency: docs/performance.md.")


if __name__ == "__main__":
    main()
