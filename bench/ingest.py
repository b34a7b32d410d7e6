"""Ingest and polling speed against the feed farm (bench/feedfarm.py), on this machine.

    python bench/ingest.py cold   [--feeds 2000] [--repeats 2]
    python bench/ingest.py steady [--feeds 5000] [--cycles 2]

cold: every entry new. Followup end to end — fetch over loopback, parse, normalize, match against the
seed topics plus 1,000 generated topics, cluster, store in a fresh SQLite database — versus a baseline
that only runs `feedparser.parse` on the same bodies in the same process. Alternating, median of
`--repeats`. Target (issue 7): Followup >= 0.7x the feedparser-only rate.

steady: after a first (cold) cycle, `--cycles` more cycles in which 10% of the feeds change and the rest
answer 304; feeds polled per second by one process (the scheduler's own poll loop), and its peak RSS.
Target: >= 150 feeds/s, peak RSS <= 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser  # noqa: E402
import httpx  # noqa: E402

from bench.feedfarm import FeedFarm  # noqa: E402
from bench.match_scale import corpus_phrases, load_entries, make_topics  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db import Database, upgrade  # noqa: E402
from service.feeds.refresh import Pipeline  # noqa: E402
from service.seeds import read_topics  # noqa: E402
from service.store import feeds as feed_store  # noqa: E402
from service.store import topics as topic_store  # noqa: E402


class RemoteFarm:
    """The farm in its own process, so serving feeds does not share this process's GIL (a farm thread
    in-process halved Followup's measured rate)."""

    items = 20

    def __init__(self, n: int, seconds: float = 7200, latency: float = 0.0) -> None:
        self.n = n
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("feedfarm.py")), "--feeds", str(n),
                                      "--port", str(self.port), "--seconds", str(seconds), "--latency", str(latency)],
                                     stdout=subprocess.PIPE, text=True)
        self.proc.stdout.readline()  # "Serving …": ready

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed/{i}"

    def advance(self) -> int:
        return int(httpx.get(f"http://127.0.0.1:{self.port}/control/advance").text)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def fresh_db(folder: Path, farm, n_topics: int) -> tuple[Database, Settings]:
    url = f"sqlite:///{folder / 'bench.db'}"
    settings = Settings(database_url=url, allow_private_hosts=True, concurrency=20, per_host_concurrency=20,
                        fetch_timeout_seconds=30)
    db = Database(url)
    upgrade(db)
    generated = make_topics(corpus_phrases(load_entries(20_000), 3 * n_topics), n_topics) if n_topics else []
    with db.write() as conn:
        for t in read_topics(settings.seeds_dir / "topics.toml"):
            topic_store.add_topic(conn, t["slug"], t["name"], t["query"], exclude=t.get("exclude"),
                                  aliases=t.get("aliases"))
        for spec in generated:
            topic_store.add_topic(conn, spec.slug, spec.slug, spec.query)
        for i in range(farm.n):
            feed_store.add_feed(conn, farm.url(i))
    return db, settings


def feedparser_rate(farm) -> tuple[float, int]:
    with httpx.Client() as client:
        bodies = [client.get(farm.url(i)).content for i in range(farm.n)]
    started = time.perf_counter()
    n = sum(len(feedparser.parse(b).entries) for b in bodies)
    return n / (time.perf_counter() - started), n


def followup_cold(farm, n_topics: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db, settings = fresh_db(Path(tmp), farm, n_topics)
        pipeline = Pipeline(db, settings)
        started = time.perf_counter()
        summary = asyncio.run(pipeline.poll(include_not_due=True))
        elapsed = time.perf_counter() - started
        db.dispose()
    new = sum(o.new for o in summary.outcomes)
    return new / elapsed, new


def cold(args: argparse.Namespace) -> None:
    farm = RemoteFarm(args.feeds)
    try:
        followup_cold(FeedFarm(20).start(), 0)  # warm imports and caches
        base, ours = [], []
        for r in range(args.repeats):
            rate, n = feedparser_rate(farm)
            base.append(rate)
            rate2, n2 = followup_cold(farm, args.topics)
            ours.append(rate2)
            print(f"repeat {r + 1}: feedparser-only {rate:,.0f} entries/s ({n:,}); Followup {rate2:,.0f} entries/s "
                  f"({n2:,} new)", file=sys.stderr, flush=True)
    finally:
        farm.stop()
    b, o = statistics.median(base), statistics.median(ours)
    print(f"\nCold ingest, {args.feeds:,} feeds × {farm.items} items, seed topics + {args.topics:,} generated, "
          f"median of {args.repeats}, alternating:\n")
    print("| pipeline | entries/s |")
    print("|---|---:|")
    print(f"| feedparser.parse only (same bodies, same process) | {b:,.0f} |")
    print(f"| Followup end to end (fetch, parse, normalize, match, cluster, store) | {o:,.0f} |")
    ratio = o / b
    print(f"\nFollowup runs at {ratio:.2f}x the feedparser-only rate (target >= 0.70x: "
          f"{'met' if ratio >= 0.7 else 'NOT met'}).")


def steady(args: argparse.Namespace) -> None:
    farm = RemoteFarm(args.feeds)
    rates = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db, settings = fresh_db(Path(tmp), farm, args.topics)
            pipeline = Pipeline(db, settings)
            started = time.perf_counter()
            asyncio.run(pipeline.poll(include_not_due=True))
            print(f"cold cycle: {farm.n:,} feeds in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            for c in range(args.cycles):
                changed = farm.advance()
                started = time.perf_counter()
                summary = asyncio.run(pipeline.poll(include_not_due=True))
                elapsed = time.perf_counter() - started
                rate = len(summary.outcomes) / elapsed
                rates.append(rate)
                print(f"cycle {c + 1}: {len(summary.outcomes):,} feeds ({changed:,} changed) in {elapsed:.1f} s: "
                      f"{rate:,.0f} feeds/s", file=sys.stderr, flush=True)
            db.dispose()
    finally:
        farm.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process: the farm is another
    rate = statistics.median(rates)
    print(f"\nSteady state, {args.feeds:,} feeds, 10% changing per cycle, one process, median of {args.cycles} cycles:\n")
    print("| measure | value | target |")
    print("|---|---:|---|")
    print(f"| feeds polled per second | {rate:,.0f} | >= 150: {'met' if rate >= 150 else 'NOT met'} |")
    print(f"| peak RSS of the Followup process | {peak_mb:,.0f} MB | <= 500 MB: {'met' if peak_mb <= 500 else 'NOT met'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("cold", "steady"))
    parser.add_argument("--feeds", type=int)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=2)
    args = parser.parse_args()
    if args.mode == "cold":
        args.feeds = args.feeds or 2000
        cold(args)
    else:
        args.feeds = args.feeds or 5000
        steady(args)


if __name__ == "__main__":
    main()
