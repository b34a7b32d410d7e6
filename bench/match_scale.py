"""Matching cost per entry as the number of topics grows: 10, 100, 1,000 and 10,000 topics.

    python bench/match_scale.py [--entries 50000] [--repeats 3]

Topics are generated from real phrases of the 2023 corpus (../shared/data/rss-2023-h1.jsonl.gz): word
pairs and triples that recur in headlines, combined into the shapes users write (a phrase, a phrase
AND a word, two phrases OR'ed, NEAR, a prefix, an exclusion). 50,000 real entries are matched against
each topic set, all in one process on one core, side by side; each figure is the median of --repeats
runs. Targets: 1,000 topics <= 3x the per-entry time of 10 topics, 10,000 <= 10x, and >= 10,000
entries/s at 1,000 topics.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import items, require_data  # noqa: E402
from service.feeds.normalize import plain_text  # noqa: E402
from service.topics.compile import Matcher, TopicSpec  # noqa: E402
from service.topics.match import make_document  # noqa: E402
from service.topics.suggest import STOPWORDS  # noqa: E402
from service.topics.text import words  # noqa: E402

SIZES = (10, 100, 1000, 10_000)


def load_entries(n: int) -> list[tuple[str, str, str]]:
    out = []
    for item in items():
        if item.get("language", "en").startswith("en"):
            out.append((plain_text(item.get("title")), plain_text(item.get("description")), item.get("source_title") or ""))
            if len(out) >= n:
                break
    return out


def corpus_phrases(entries: list[tuple[str, str, str]], want: int) -> list[tuple[str, ...]]:
    counts: Counter = Counter()
    for title, _, _ in entries:
        w = words(title)
        for n in (2, 3):
            for i in range(len(w) - n + 1):
                gram = tuple(w[i:i + n])
                if gram[0] not in STOPWORDS and gram[-1] not in STOPWORDS and all(len(x) > 2 for x in gram):
                    counts[gram] += 1
    recurring = [g for g, c in counts.items() if c >= 3]
    random.Random(7).shuffle(recurring)
    return recurring[:want]


def make_topics(phrases: list[tuple[str, ...]], n: int) -> list[TopicSpec]:
    rng = random.Random(42)
    specs = []
    for i in range(n):
        a, b, c = phrases[(3 * i) % len(phrases)], phrases[(3 * i + 1) % len(phrases)], phrases[(3 * i + 2) % len(phrases)]
        shape = i % 6
        if shape == 0:
            q = f'"{" ".join(a)}"'
        elif shape == 1:
            q = f'"{" ".join(a)}" "{b[-1]}"'
        elif shape == 2:
            q = f'"{" ".join(a)}" OR "{" ".join(b)}"'
        elif shape == 3:
            q = f'"{a[0]}" NEAR/5 "{a[-1]}"'
        elif shape == 4:
            q = f'{a[0][:max(4, len(a[0]) - 2)]}* "{" ".join(b)}"'
        else:
            q = f'"{" ".join(a)}" -"{c[0]}"'
        specs.append(TopicSpec(i + 1, f"t{i + 1}", q))
    rng.shuffle(specs)
    return specs


def time_matching(matcher: Matcher, entries: list[tuple[str, str, str]]) -> tuple[float, int]:
    started = time.perf_counter()
    matched = 0
    for title, summary, source in entries:
        matched += len(matcher.match(make_document(title, summary, source)))
    return time.perf_counter() - started, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    require_data()
    entries = load_entries(args.entries)
    phrases = corpus_phrases(entries, 40_000)
    all_topics = make_topics(phrases, max(SIZES))
    matchers = {}
    for size in SIZES:
        started = time.perf_counter()
        matchers[size] = Matcher(all_topics[:size])
        assert not matchers[size].errors, list(matchers[size].errors.items())[:3]
        print(f"compiled {size:>6} topics in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    runs: dict[int, list[float]] = {s: [] for s in SIZES}
    found: dict[int, int] = {}
    for r in range(args.repeats):
        for size in SIZES:  # interleaved, so every size sees the same machine state
            seconds, matched = time_matching(matchers[size], entries)
            runs[size].append(seconds)
            found[size] = matched
        print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr)
    base = statistics.median(runs[SIZES[0]]) / len(entries)
    print(f"Matching {len(entries):,} real entries (2023 corpus) on one core; median of {args.repeats} runs.\n")
    print("| topics | µs per entry | entries/s | x of 10 topics | matches | target |")
    print("|---:|---:|---:|---:|---:|---|")
    verdicts = []
    for size in SIZES:
        per = statistics.median(runs[size]) / len(entries)
        ratio = per / base
        target = {1000: "<= 3x and >= 10,000/s", 10_000: "<= 10x"}.get(size, "")
        ok = {1000: ratio <= 3 and 1 / per >= 10_000, 10_000: ratio <= 10}.get(size, True)
        verdicts.append(ok)
        print(f"| {size:,} | {per * 1e6:.1f} | {1 / per:,.0f} | {ratio:.2f} | {found[size]:,} | {target + (' met' if ok and target else (' NOT met' if target else ''))} |")
    print("\nALL TARGETS MET" if all(verdicts) else "\nSome targets are not met.")


if __name__ == "__main__":
    main()
