"""Parse speed: the lxml fast path (with its feedparser fallback) against feedparser alone.

    python bench/parse_speed.py [--repeats 3]

Two sets of documents, parsed and normalized (what ingest stores) in this process, alternating, median of
`--repeats`:
  * real feeds: the 200 captured feeds of ../shared/data/feeds/fastfeedparser_benchmark (news sites and
    blogs, RSS, Atom and RDF, 44 MB): what a real subscription list looks like; the fast path takes the
    plain RSS 2.0 among them and hands the rest to feedparser;
  * farm feeds: 1,000 documents of bench/feedfarm.py (RSS 2.0 built from the real 2023 items).
Prints entries per second for each path, the ratio, and how many documents took the fast path. Equality
of the results is not measured here but tested, on every file: tests/feeds/test_fastparse.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import SHARED, require_data  # noqa: E402
from bench.feedfarm import FeedFarm  # noqa: E402
from service.feeds.fastparse import parse_rss_fast  # noqa: E402
from service.feeds.normalize import normalize_feed  # noqa: E402
from service.feeds.parse import ParseError, parse_feed  # noqa: E402

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def rate(docs: list[tuple[bytes, str | None, str]], fast: bool) -> tuple[float, int]:
    started = time.perf_counter()
    n = 0
    for body, ctype, url in docs:
        try:
            n += len(normalize_feed(parse_feed(body, ctype, url, fast=fast), url, NOW))
        except ParseError:
            pass
    return n / (time.perf_counter() - started), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    require_data()
    real = [(p.read_bytes(), None, f"https://example.com/{p.name}")
            for p in sorted((SHARED / "feeds/fastfeedparser_benchmark/benchmark_data").iterdir()) if p.is_file()]
    farm = FeedFarm(1000)
    farmed = [(farm.body(i), "application/rss+xml; charset=utf-8", f"http://127.0.0.1/feed/{i}") for i in range(1000)]
    print("| documents | fast path taken | feedparser only: entries/s | fast path + fallback: entries/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, docs in (("200 real captured feeds", real), ("1,000 farm feeds", farmed)):
        taken = sum(parse_rss_fast(b, c, u) is not None for b, c, u in docs)
        slow, quick = [], []
        for _ in range(args.repeats):
            slow.append(rate(docs, fast=False)[0])
            quick.append(rate(docs, fast=True)[0])
        s, q = statistics.median(slow), statistics.median(quick)
        print(f"| {name} | {taken} of {len(docs)} | {s:,.0f} | {q:,.0f} | {q / s:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
