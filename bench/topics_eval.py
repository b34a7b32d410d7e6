"""Precision and recall of the shipped seed topics on the hand-labelled 2023 development set.

    python bench/topics_eval.py            # the real path: RSS files -> `followup ingest` -> `followup matches`
    python bench/topics_eval.py --quick    # same matcher in-process, seconds instead of minutes (for tuning)

Every item of ../shared/data/rss-2023-h1.jsonl.gz is ingested; items missing from the labels file are
relevant to no topic; items labelled `unsure` are left out of scoring. Prints per topic TP/FP/FN,
precision, recall and F1, then the misses and false alarms so a person can see why.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, TOPIC_LABELS, item_id, items, labels, require_data, write_feeds  # noqa: E402

TARGETS = {"precision": 0.90, "recall": 0.90, "japan-korea-relations F1": 0.85}


def followup(*args: str, db: str) -> str:
    cmd = [sys.executable, "-m", "service", *args, "--db", db]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])} failed:\n{done.stderr}")
    return done.stdout


def matches_via_cli(workdir: Path) -> tuple[dict[str, set[int]], dict[int, dict], float]:
    db = f"sqlite:///{workdir / 'eval.db'}"
    feeds_dir = workdir / "feeds"
    corpus = {i["id"]: i for i in items()}
    write_feeds(iter(corpus.values()), feeds_dir)
    started = time.monotonic()
    print(followup("seed", db=db).strip(), file=sys.stderr)
    print(followup("ingest", str(feeds_dir), db=db).strip(), file=sys.stderr)
    elapsed = time.monotonic() - started
    found: dict[str, set[int]] = {slug: set() for slug in TOPIC_LABELS}
    out = followup("matches", "--format", "jsonl", "--limit", "100000", db=db)
    for line in out.splitlines():
        row = json.loads(line)
        if row["topic"] in found and (i := item_id(row["guid"])) is not None:
            found[row["topic"]].add(i)
    return found, corpus, elapsed


def matches_in_process() -> tuple[dict[str, set[int]], dict[int, dict], float]:
    from service.feeds.normalize import plain_text
    from service.seeds import read_topics
    from service.topics.compile import Matcher, TopicSpec
    from service.topics.match import make_document

    specs = [TopicSpec(n, t["slug"], t["query"], t.get("exclude"), t.get("aliases") or {})
             for n, t in enumerate(read_topics(REPO / "seeds" / "topics.toml"))]
    matcher = Matcher(specs)
    found: dict[str, set[int]] = {slug: set() for slug in TOPIC_LABELS}
    corpus = {}
    started = time.monotonic()
    for item in items():
        corpus[item["id"]] = item
        doc = make_document(plain_text(item.get("title")), plain_text(item.get("description")), item.get("source_title") or "")
        for result in matcher.match(doc):
            found[result.slug].add(item["id"])
    return found, corpus, time.monotonic() - started


def score(found: dict[str, set[int]], corpus: dict[int, dict], show: int) -> bool:
    truth = labels()
    unsure = {i for i, d in truth.items() if d.get("unsure")}
    rows, all_ok, details = [], True, []
    for slug, key in TOPIC_LABELS.items():
        positives = {i for i, d in truth.items() if d.get(key) and i not in unsure}
        predicted = found[slug] - unsure
        tp, fp, fn = len(predicted & positives), len(predicted - positives), len(positives - predicted)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        ok = p >= TARGETS["precision"] and r >= TARGETS["recall"] and (slug != "japan-korea-relations" or f1 >= 0.85)
        all_ok &= ok
        rows.append((slug, tp, fp, fn, p, r, f1, ok))
        for label, ids in (("missed", positives - predicted), ("false alarm", predicted - positives)):
            for i in sorted(ids)[:show]:
                it = corpus.get(i, {})
                note = truth.get(i, {}).get("note", "")
                details.append(f"  {slug:22} {label:11} [{i}] {it.get('title', '?')[:110]}" + (f"  ({note})" if note else ""))
    print("| topic | TP | FP | FN | precision | recall | F1 | target met |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for slug, tp, fp, fn, p, r, f1, ok in rows:
        print(f"| {slug} | {tp} | {fp} | {fn} | {p:.3f} | {r:.3f} | {f1:.3f} | {'yes' if ok else 'NO'} |")
    print(f"\n{len(unsure)} items labelled unsure are left out. Targets: precision >= 0.90 and recall >= 0.90 per "
          "topic, japan-korea-relations F1 >= 0.85.")
    if details:
        print("\nMisses and false alarms:")
        print("\n".join(details))
    return all_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="match in-process instead of through the CLI")
    parser.add_argument("--show", type=int, default=40, help="misses/false alarms to list per topic and kind")
    parser.add_argument("--workdir", type=Path, help="keep the feed files and database here")
    args = parser.parse_args()
    require_data()
    if args.quick:
        found, corpus, elapsed = matches_in_process()
        how = "in-process matcher"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = args.workdir or Path(tmp)
            workdir.mkdir(parents=True, exist_ok=True)
            found, corpus, elapsed = matches_via_cli(workdir)
        how = "followup ingest + followup matches"
    print(f"{len(corpus):,} items, {how}, {elapsed:.0f} s\n")
    ok = score(found, corpus, args.show)
    print("\nALL TARGETS MET" if ok else "\nSome targets are not met.")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
