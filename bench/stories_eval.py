"""Story clustering quality on real headlines labelled with their story (../shared/data/clusters-dev.csv).

    python bench/stories_eval.py [--threshold 0.3] [--sweep]

The 2,558 headlines (UCI News Aggregator, March 2014, 43 stories, many publishers) are fed to the online
clusterer in publication order, exactly as ingest does, and compared with the labels: B-cubed precision,
recall and F1 (Bagga & Baldwin 1998), and the adjusted Rand index (Hubert & Arabie 1985).
Targets: B-cubed F1 >= 0.80 with precision >= 0.85.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from math import comb
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import SHARED  # noqa: E402
from service.feeds.normalize import canonical_url  # noqa: E402
from service.stories.cluster import Candidate, StoryIndex  # noqa: E402

DATA = SHARED / "clusters-dev.csv"


def load() -> list[dict]:
    if not DATA.exists():
        raise SystemExit(f"{DATA} is missing (set FOLLOWUP_SHARED_DATA)")
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: (int(r["TIMESTAMP"]), int(r["ID"])))
    return rows


def in_stream(rows: list[dict], month: int = 3) -> list[dict]:
    """The labelled headlines moved into a month of the real 2023 stream (same spacing, starting on the
    10th), mixed with every item of that month; stream items are labelled as stories of their own, so a
    labelled headline that joins unrelated news costs precision."""
    from bench.corpus import items

    start = datetime(2023, month, 10, tzinfo=timezone.utc).timestamp() * 1000
    shift = start - int(rows[0]["TIMESTAMP"])
    mixed = [dict(r, TIMESTAMP=str(int(int(r["TIMESTAMP"]) + shift))) for r in rows]
    for n, item in enumerate(items(months={month})):
        when = datetime.fromisoformat(item["date_published"]).timestamp() * 1000
        mixed.append(dict(ID=f"s{n}", TITLE=item["title"] or "", URL=item["link"] or "", STORY=f"stream-{n}",
                          TIMESTAMP=str(int(when)), LANGUAGE=item.get("language") or ""))
    mixed.sort(key=lambda r: int(r["TIMESTAMP"]))
    return mixed


def cluster(rows: list[dict], threshold: float, window_hours: float = 72) -> list[object]:
    """Feed headlines one at a time, as ingest does, applying merges as they happen."""
    index = StoryIndex(window=timedelta(hours=window_hours), threshold=threshold)
    assigned: list[int] = []
    merged_into: dict[int, int] = {}
    next_id = 0
    for r in rows:
        when = datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, tz=timezone.utc)
        item = Candidate(r["TITLE"], "", canonical_url(r["URL"]), when, r.get("LANGUAGE") or None)
        (placement,) = index.plan([item])
        key = placement.story
        if isinstance(key, tuple):
            key, next_id = next_id, next_id + 1
        index.commit([item], [placement], {placement.story: key})
        assigned.append(key)
        for small, large in index.find_merges({key}, when):
            index.merge(small, large)
            merged_into[small] = large

    def final(k: int) -> int:
        while k in merged_into:
            k = merged_into[k]
        return k

    return [final(k) for k in assigned]


def bcubed(pred: list, gold: list) -> tuple[float, float, float]:
    by_pred, by_gold = defaultdict(list), defaultdict(list)
    for i, (p, g) in enumerate(zip(pred, gold)):
        by_pred[p].append(i)
        by_gold[g].append(i)
    precision = recall = 0.0
    for i, (p, g) in enumerate(zip(pred, gold)):
        same = sum(1 for j in by_pred[p] if gold[j] == g)
        precision += same / len(by_pred[p])
        recall += same / len(by_gold[g])
    n = len(pred)
    precision, recall = precision / n, recall / n
    return precision, recall, 2 * precision * recall / (precision + recall)


def adjusted_rand(pred: list, gold: list) -> float:
    pairs = Counter(zip(pred, gold))
    sum_ij = sum(comb(c, 2) for c in pairs.values())
    sum_a = sum(comb(c, 2) for c in Counter(pred).values())
    sum_b = sum(comb(c, 2) for c in Counter(gold).values())
    expected = sum_a * sum_b / comb(len(pred), 2)
    top = (sum_a + sum_b) / 2
    return (sum_ij - expected) / (top - expected) if top != expected else 1.0


def report(threshold: float, rows: list[dict]) -> tuple[float, float, float, float, int]:
    pred = cluster(rows, threshold)
    gold = [r["STORY"] for r in rows]
    labelled = [i for i, r in enumerate(rows) if not r["STORY"].startswith("stream-")]
    if len(labelled) < len(rows):  # in-stream: score the labelled headlines, clusters counted whole
        p, r, f = bcubed_subset(pred, gold, labelled)
        sub_pred, sub_gold = [pred[i] for i in labelled], [gold[i] for i in labelled]
        return p, r, f, adjusted_rand(sub_pred, sub_gold), len({pred[i] for i in labelled})
    p, r, f = bcubed(pred, gold)
    return p, r, f, adjusted_rand(pred, gold), len(set(pred))


def bcubed_subset(pred: list, gold: list, items: list[int]) -> tuple[float, float, float]:
    """B-cubed over `items`, with each cluster's size counting all its members (stream items too)."""
    by_pred, by_gold = defaultdict(list), defaultdict(list)
    for i, (p, g) in enumerate(zip(pred, gold)):
        by_pred[p].append(i)
        by_gold[g].append(i)
    precision = recall = 0.0
    for i in items:
        same = sum(1 for j in by_pred[pred[i]] if gold[j] == gold[i])
        precision += same / len(by_pred[pred[i]])
        recall += same / len(by_gold[gold[i]])
    precision, recall = precision / len(items), recall / len(items)
    return precision, recall, 2 * precision * recall / (precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=StoryIndex().threshold,
                        help="the clusterer's join threshold (default: the shipped one)")
    parser.add_argument("--sweep", action="store_true", help="also show neighbouring thresholds")
    parser.add_argument("--in-stream", action="store_true",
                        help="realism check: mix the labelled headlines into March 2023 of the real corpus")
    args = parser.parse_args()
    rows = in_stream(load()) if args.in_stream else load()
    thresholds = sorted({args.threshold, *([0.02, 0.03, 0.04, 0.05, 0.06, 0.08] if args.sweep else [])})
    labelled = [r for r in rows if not r["STORY"].startswith("stream-")]
    print(f"{len(labelled):,} labelled headlines, {len({r['STORY'] for r in labelled})} stories, "
          f"{len({r['PUBLISHER'] for r in labelled}):,} publishers"
          + (f", mixed into {len(rows) - len(labelled):,} real March 2023 items" if args.in_stream else "")
          + "; online single pass in time order.\n")
    print("| threshold | stories found | B³ precision | B³ recall | B³ F1 | ARI | target |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    ok_default = False
    for t in thresholds:
        p, r, f, ari, k = report(t, rows)
        ok = f >= 0.80 and p >= 0.85
        if t == args.threshold:
            ok_default = ok
        mark = " (default)" if t == args.threshold else ""
        print(f"| {t:.2f}{mark} | {k} | {p:.3f} | {r:.3f} | {f:.3f} | {ari:.3f} | {'met' if ok else 'not met'} |")
    print("\nTargets: B-cubed F1 >= 0.80 with precision >= 0.85.")
    print("ALL TARGETS MET" if ok_default else "Targets NOT met at the default threshold.")
    sys.exit(0 if ok_default else 1)


if __name__ == "__main__":
    main()
