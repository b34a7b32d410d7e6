"""Story clustering on hostile input: many near-identical headlines in one feed file (issue 12, item 8).

    python bench/cluster_scale.py [--sizes 20000,50000,100000]

For each size, one RSS file of N items whose headlines share a template and differ in a number and a
couple of words (a stock-ticker or wire feed gone wild) is ingested with `followup ingest` into a fresh
SQLite database, with clustering on and off, side by side. Prints seconds, peak RSS of the ingest
process, the on/off ratio and the growth per doubling. Target: at 100k items, clustering on costs at
most 2x clustering off, and time grows linearly (a doubling of N at most ~2.2x the time).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.hostile.conftest import run_followup  # noqa: E402  (peak RSS as the child's own VmHWM)
TEMPLATES = [
    "Breaking: {w1} shares rise {n}% after {w2} report",
    "Local council approves budget item {n} for {w1} district roads",
    "{w1} {w2} recall: lot {n} of frozen meals pulled from shelves",
    "Weather warning {n} issued for {w1} and {w2} counties",
    "Live: match {n} between {w1} and {w2} ends in draw",
]


def write_feed(path: Path, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    pool = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "ti", "va", "zo") for b in
            ("ban", "der", "fin", "gor", "hul", "jex", "kim", "lop", "mur", "nax", "pel", "quo", "ras", "sul",
             "tov", "vim", "wex", "yor", "zan", "bol")]
    start = datetime(2023, 3, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Wire</title>'
                "<link>https://wire.example/</link><language>en</language>")
        for i in range(n):
            title = rnd.choice(TEMPLATES).format(w1=rnd.choice(pool).title(), w2=rnd.choice(pool).title(), n=i)
            when = start + timedelta(seconds=20 * i)
            f.write(f"<item><title>{escape(title)}</title><link>https://wire.example/{i}</link>"
                    f"<guid>wire-{i}</guid><description>{escape(title)}.</description>"
                    f"<pubDate>{format_datetime(when)}</pubDate></item>")
        f.write("</channel></rss>\n")


def ingest(feed: Path, db: Path, cluster: bool) -> tuple[float, int]:
    env = {**os.environ, "FOLLOWUP_CLUSTER_STORIES": str(cluster).lower(), "FOLLOWUP_MAX_BODY_BYTES": str(500 << 20)}
    started = time.perf_counter()
    code, _, err, peak = run_followup(["ingest", str(feed), "--db", f"sqlite:///{db}"], env, REPO)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"ingest failed: {err[-2000:]}")
    return elapsed, int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,50000,100000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in sizes:
            feed = tmp / f"wire-{n}.xml"
            write_feed(feed, n)
            on, rss_on = ingest(feed, tmp / f"on-{n}.db", True)
            off, rss_off = ingest(feed, tmp / f"off-{n}.db", False)
            rows.append((n, on, off, rss_on, rss_off))
            print(f"{n:>7} items: clustering on {on:6.1f} s ({rss_on} MB), off {off:6.1f} s ({rss_off} MB), "
                  f"ratio {on / off:.2f}x", flush=True)
    print("\n| items | on (s) | off (s) | on/off | on: peak RSS (MB) | off: peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, on, off, r_on, r_off in rows:
        print(f"| {n:,} | {on:.1f} | {off:.1f} | {on / off:.2f}x | {r_on} | {r_off} |")
    for (n1, on1, *_), (n2, on2, *_) in zip(rows, rows[1:]):
        print(f"growth {n1:,} -> {n2:,} items ({n2 / n1:.1f}x): {on2 / on1:.2f}x the time")
    last = rows[-1]
    verdict = "met" if last[1] <= 2 * last[2] else "NOT met"
    print(f"Target (at {last[0]:,} items, on <= 2x off): {verdict}")


if __name__ == "__main__":
    main()
