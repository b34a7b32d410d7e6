"""Matches-search latency of the API with >= 1,000,000 stored entries, SQLite and PostgreSQL.

    python bench/query.py build --db sqlite:////tmp/followup-q/q.db [--copies 5]
    python bench/query.py build --db postgresql+psycopg://postgres@127.0.0.1:5432/followup_bench
    python bench/query.py measure --db URL [--db URL ...] [--requests 200]

build: the 245,175 real items of ../shared/data/rss-2023-h1.jsonl.gz, stored `--copies` times (copy k is
published k × 183 days later, so 5 copies span January 2023 to mid 2025 and hold 1,225,875 entries),
matched against the four seed topics, four broad newsroom topics (ukraine, china, election, inflation)
and 200 topics generated from recurring headline phrases, through the store functions the pipeline
uses (upsert_entries, insert_matches; the SQLite full-text index kept in step). Stories are not
clustered: the search does not need them.

measure: starts `followup serve` on the database and times `GET /api/matches` over loopback HTTP
(one keep-alive client, sequential requests, server and client on this 2-core machine), for
  * topic + full-text + date filter, first page (50 rows);
  * the same, the page after 20 pages of cursor paging (rows 1,001-1,050);
  * topic only, first page; full text only, first page; topic + date, deep cursor page.
Query words are drawn from the topic's own matched headlines (so most queries find rows), topics and
dates vary per request. Prints p50/p95 per kind and database, and the target (p95 <= 50 ms).
"""

from __future__ import annotations

import argparse
from collections import Counter
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bench.corpus import items as corpus_items  # noqa: E402
from bench.corpus import require_data  # noqa: E402
from bench.match_scale import corpus_phrases, make_topics  # noqa: E402
from service.db import Database, upgrade  # noqa: E402
from service.feeds.normalize import NormalizedEntry, _sha256, canonical_url, plain_text  # noqa: E402
from service.models import Topic  # noqa: E402
from service.seeds import read_topics  # noqa: E402
from service.config import Settings  # noqa: E402
from service.store import entries as entry_store  # noqa: E402
from service.store import feeds as feed_store  # noqa: E402
from service.store import matches as match_store  # noqa: E402
from service.store import topics as topic_store  # noqa: E402
from service.topics.match import make_document  # noqa: E402
from service.topics.compile import Matcher  # noqa: E402
from service.topics.text import words  # noqa: E402
from service.models import utcnow  # noqa: E402

BROAD = {"ukraine": "ukraine OR ukrainian", "china": "china OR chinese OR beijing",
         "election": "election* OR ballot*", "inflation": 'inflation OR "interest rates"'}
SHIFT = timedelta(days=183)
BATCH = 5000


def build(args: argparse.Namespace) -> None:
    require_data()
    db = Database(args.db)
    if db.engine.dialect.name == "postgresql":
        _recreate_pg_database(args.db)
        db = Database(args.db)
    upgrade(db)
    settings = Settings(database_url=args.db)
    started = time.perf_counter()
    raw = list(corpus_items())
    print(f"{len(raw):,} corpus items read", file=sys.stderr, flush=True)
    rows = [(it, plain_text(it.get("title")), plain_text(it.get("description"))) for it in raw]
    phrases = corpus_phrases([(t, s, "") for _, t, s in rows[:20_000]], 600)
    with db.write() as conn:
        for t in read_topics(settings.seeds_dir / "topics.toml"):
            topic_store.add_topic(conn, t["slug"], t["name"], t["query"], exclude=t.get("exclude"), aliases=t.get("aliases"))
        for slug, query in BROAD.items():
            topic_store.add_topic(conn, slug, slug, query)
        for spec in make_topics(phrases, 200):
            topic_store.add_topic(conn, spec.slug, spec.slug, spec.query)
        feed_ids = {}
        for it, _, _ in rows:
            if it["source"] not in feed_ids:
                feed_ids[it["source"]] = feed_store.add_feed(conn, it["source"], title=it.get("source_title")).id
        specs = topic_store.topic_specs(conn)
    matcher = Matcher(specs)
    matched = [[(m.topic_id, m.score, m.terms) for m in matcher.match(make_document(t, s, it.get("source_title") or ""))]
               for it, t, s in rows]
    print(f"matched in {time.perf_counter() - started:.0f} s: {sum(map(len, matched)):,} matches per copy",
          file=sys.stderr, flush=True)
    now = utcnow()
    for k in range(args.copies):
        for lo in range(0, len(rows), BATCH):
            chunk = rows[lo:lo + BATCH]
            by_feed: dict[int, list[tuple[int, NormalizedEntry]]] = {}
            for offset, (it, title, summary) in enumerate(chunk):
                published = datetime.fromisoformat(it["date_published"]) + k * SHIFT
                entry = NormalizedEntry(identity=_sha256(f"bench:{k}:{it['id']}"), guid=f"rss-2023-h1/{it['id']}/{k}",
                                        url=canonical_url(it.get("link")), title=title, summary=summary, author=None,
                                        language=it.get("language"), published_at=published,
                                        content_hash=_sha256(f"{title}\n{summary}"))
                by_feed.setdefault(feed_ids[it["source"]], []).append((lo + offset, entry))
            with db.write() as conn:
                new = []
                for feed_id, group in by_feed.items():
                    stored = entry_store.upsert_entries(conn, feed_id, None, [e for _, e in group], now)
                    for (index, _), s in zip(group, stored):
                        new.extend(match_store.NewMatch(t, s.id, sc, terms) for t, sc, terms in matched[index])
                match_store.insert_matches(conn, new, now)
        print(f"copy {k + 1}/{args.copies} stored ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    with db.write() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.execute(text("INSERT INTO entries_fts(entries_fts) VALUES ('optimize')"))
    with db.read() as conn:
        n = entry_store.count_entries(conn)
        m = match_store.count_matches(conn)
    print(f"built: {n:,} entries, {m:,} matches in {time.perf_counter() - started:.0f} s")


def _recreate_pg_database(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


# -- measuring ---------------------------------------------------------------------------------------
def _workload(db: Database, n: int, seed: int = 11) -> dict[str, list[dict]]:
    """Request parameters per kind: topics with enough matches, words from their own headlines."""
    rng = random.Random(seed)
    topics = Topic.__table__
    with db.read() as conn:
        counts = conn.execute(text("SELECT topic_id, count(*) FROM matches GROUP BY topic_id")).all()
        slugs = dict(conn.execute(select(topics.c.id, topics.c.slug)).all())
        big = [(slugs[t], c) for t, c in counts if c >= 2_000]
        huge = [slugs[t] for t, c in counts if c >= 5_000]
        span = conn.execute(text("SELECT min(published_at), max(published_at) FROM entries")).one()
        titles: dict[str, list[str]] = {}
        for slug, _ in big:
            rows = conn.execute(text(
                "SELECT e.title FROM matches m JOIN entries e ON e.id = m.entry_id JOIN topics t ON t.id = m.topic_id "
                "WHERE t.slug = :s ORDER BY m.id LIMIT 300"), {"s": slug}).scalars().all()
            titles[slug] = rows
    lo, hi = _as_dt(span[0]), _as_dt(span[1])
    days = (hi - lo).days

    def since() -> str:
        return (lo + timedelta(days=rng.randrange(days // 2))).date().isoformat()

    def word(slug: str) -> str:
        for _ in range(20):
            w = [x for x in words(rng.choice(titles[slug])) if len(x) > 3]
            if w:
                return rng.choice(w)
        return slug

    common = {}
    for slug in huge:  # words frequent in the topic's headlines: searches that go 1,000 rows deep
        counts_ = Counter(x for t in titles[slug] for x in set(words(t)) if len(x) > 3)
        common[slug] = [w for w, _ in counts_.most_common(5)]

    out: dict[str, list[dict]] = {"topic + text + date": [], "topic + text + date, deep": [], "topic": [],
                                  "text": [], "topic + date, deep": []}
    for _ in range(n):
        slug, deep_slug = rng.choice(big)[0], rng.choice(huge)
        early = (lo + timedelta(days=rng.randrange(60))).date().isoformat()
        out["topic + text + date"].append(dict(topic=slug, q=word(slug), since=since()))
        out["topic + text + date, deep"].append(dict(topic=deep_slug, q=rng.choice(common[deep_slug]), since=early))
        out["topic"].append(dict(topic=slug))
        out["text"].append(dict(q=word(slug)))
        out["topic + date, deep"].append(dict(topic=deep_slug, since=early))
    return out


def _as_dt(value):  # noqa: ANN001, ANN202
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, FOLLOWUP_DATABASE_URL=url, FOLLOWUP_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("followup serve did not start")


def _timed(client: httpx.Client, base: str, params: dict, deep: int = 0) -> tuple[float, int, bool]:
    """Milliseconds for the request (after `deep` pages of cursor paging, untimed), rows returned, and
    whether the timed page really was that deep."""
    params = dict(params, limit=50)
    for _ in range(deep):
        page = client.get(base + "/api/matches", params=params).json()
        if not page.get("next_cursor"):
            return 0.0, 0, False
        params["cursor"] = page["next_cursor"]
    started = time.perf_counter()
    response = client.get(base + "/api/matches", params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, len(response.json()["items"]), True


def measure(args: argparse.Namespace) -> None:
    table = []
    for url in args.db:
        db = Database(url)
        with db.read() as conn:
            n_entries = entry_store.count_entries(conn)
            n_matches = match_store.count_matches(conn)
        work = _workload(db, args.requests)
        db.dispose()
        proc, base = _serve(url)
        try:
            with httpx.Client(timeout=60) as client:
                for params in list(work.values())[0][:10]:  # warm the caches the way a running server is
                    _timed(client, base, params)
                for kind, requests in work.items():
                    deep = 20 if "deep" in kind else 0
                    times, empty = [], 0
                    for params in requests:
                        ms, rows, reached = _timed(client, base, params, deep)
                        if not reached:
                            continue  # fewer than 21 pages: not a deep request
                        times.append(ms)
                        empty += rows == 0
                    times.sort()
                    p50 = statistics.median(times)
                    p95 = times[int(0.95 * (len(times) - 1))]
                    table.append((db.engine.dialect.name, n_entries, n_matches, kind, len(times), empty, p50, p95))
                    print(f"{table[-1][0]} {kind}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({empty} empty)", file=sys.stderr,
                          flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print("\n| database | entries | matches | request | n | empty | p50 ms | p95 ms | p95 <= 50 ms |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|")
    for name, n_e, n_m, kind, n, empty, p50, p95 in table:
        print(f"| {name} | {n_e:,} | {n_m:,} | {kind} | {n} | {empty} | {p50:.1f} | {p95:.1f} | "
              f"{'met' if p95 <= 50 else 'NOT met'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("build")
    b.add_argument("--db", required=True)
    b.add_argument("--copies", type=int, default=5)
    m = sub.add_parser("measure")
    m.add_argument("--db", action="append", required=True)
    m.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    build(args) if args.mode == "build" else measure(args)


if __name__ == "__main__":
    main()
