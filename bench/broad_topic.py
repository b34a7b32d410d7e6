"""What a broad topic costs while polling: placing its matches in developments, feed document by feed document.

    python bench/broad_topic.py [--days 14] [--hours 2] [--code DIR ...]

The real items of March 2023 (../shared/data) from its first `--days` days are cut into feed documents as
polling would see them: one RSS document per source and `--hours` window, stored in time order through
`Pipeline.store_document` (parse, normalize, match, store, place; no HTTP: this measures the store path)
into a fresh SQLite database holding the four seed topics and a broad topic (the query below: about 75
matches a day in March 2023). Each run is a child process of the checkout given by `--code` (default this
one; give a worktree of an earlier commit to compare side by side), and prints the whole time, the time
spent placing developments (`develop_topics`) and the broad topic's developments, so two checkouts can be
compared for speed and checked for the same result.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import _write_rss, items, require_data  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BROAD = "ukraine OR ukrainian OR russia OR russian OR putin OR zelensky"

_CHILD = r"""
import hashlib, json, pickle, sys, time
from datetime import datetime
from sqlalchemy import select
from service.config import Settings
from service.db import Database, upgrade
from service.feeds import refresh
from service.feeds.refresh import Pipeline
from service.seeds import read_topics
from service.store import feeds as feed_store
from service.topics.manage import create_topic
from pathlib import Path

docs, query, url = pickle.load(open(sys.argv[1], "rb"))
db = Database(url)
upgrade(db)
for t in read_topics(Path("seeds/topics.toml")):
    create_topic(db, t["slug"], t["name"], t["query"], exclude=t.get("exclude"), aliases=t.get("aliases") or {})
create_topic(db, "broad", "Broad", query)
feed_ids = {}
with db.write() as conn:
    for source in sorted({s for s, _, _ in docs}):
        feed_ids[source] = feed_store.add_feed(conn, "http://127.0.0.1/" + source).id
pipeline = Pipeline(db, Settings(database_url=url, allow_private_hosts=True))
placing = [0.0, 0]
original = refresh.develop_topics
def timed(*args, **kwargs):
    started = time.perf_counter()
    try:
        return original(*args, **kwargs)
    finally:
        placing[0] += time.perf_counter() - started
        placing[1] += 1
refresh.develop_topics = timed
started = time.perf_counter()
for source, when, body in docs:
    with db.read() as conn:
        feed = feed_store.get_feed(conn, feed_ids[source])
    pipeline.store_document(feed, body, "application/rss+xml", now=when, owner=None)
total = time.perf_counter() - started
from service.store.matches import matches, topics
with db.read() as conn:
    broad = conn.execute(select(topics.c.id).where(topics.c.slug == "broad")).scalar_one()
    rows = conn.execute(select(matches.c.topic_id, matches.c.entry_id, matches.c.development_id)).all()
groups = {}
for topic_id, entry_id, development_id in rows:
    groups.setdefault((topic_id, development_id), []).append(entry_id)
fingerprint = hashlib.sha256(json.dumps(sorted(sorted(g) for g in groups.values())).encode()).hexdigest()[:16]
print(json.dumps(dict(total=total, placing=placing[0], placements=placing[1], matches=len(rows),
                      broad=sum(1 for t, _, _ in rows if t == broad), unplaced=sum(1 for r in rows if r[2] is None),
                      developments=len(groups), fingerprint=fingerprint)))
"""


def documents(days: int, hours: int) -> list[tuple[str, object, bytes]]:
    """(source, poll time, RSS body) in poll-time order: each source's items of each `hours` window."""
    from datetime import datetime, timedelta

    require_data()
    groups: dict[tuple[str, datetime], list[dict]] = defaultdict(list)
    titles: dict[str, str] = {}
    for item in items(months={3}):
        when = datetime.fromisoformat(item["date_published"])
        if when.day > days:
            continue
        slot = when.replace(minute=0, second=0, microsecond=0)
        slot = slot.replace(hour=slot.hour - slot.hour % hours) + timedelta(hours=hours)
        groups[(item["source"], slot)].append(item)
        titles[item["source"]] = item.get("source_title") or item["source"]
    names = {source: f"source{n:03d}" for n, source in enumerate(sorted(titles))}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for (source, slot), group in sorted(groups.items(), key=lambda kv: (kv[0][1], names[kv[0][0]])):
            group.sort(key=lambda i: i["date_published"])
            path = _write_rss(Path(tmp) / "doc.xml", titles[source], source, group[0].get("language"), group)
            out.append((names[source], slot, path.read_bytes()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=14, help="the first DAYS days of March 2023")
    parser.add_argument("--hours", type=int, default=2, help="one feed document per source and this many hours")
    parser.add_argument("--query", default=BROAD, help="the broad topic's query")
    parser.add_argument("--code", type=Path, action="append", help="checkout(s) to measure (default: this one)")
    args = parser.parse_args()
    docs = documents(args.days, args.hours)
    print(f"{len(docs):,} feed documents, {args.days} days of March 2023, broad topic: {args.query}\n")
    print("| checkout | seconds | placing developments | placements | matches (broad) | unplaced | result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "docs.pickle"
        for n, code in enumerate(args.code or [REPO]):
            url = f"sqlite:///{tmp}/run{n}.db"
            data.write_bytes(pickle.dumps((docs, args.query, url)))
            env = {**os.environ, "PYTHONPATH": str(code.resolve())}
            done = subprocess.run([sys.executable, "-c", _CHILD, str(data)], cwd=code, env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr[-3000:])
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {code} | {r['total']:.1f} | {r['placing']:.1f} s | {r['placements']:,} | {r['matches']:,} "
                  f"({r['broad']:,}) | {r['unplaced']} | {r['fingerprint']} |", flush=True)


if __name__ == "__main__":
    main()
