"""What encoding costs a process in memory, batches of any size against batches of power-of-two sizes.

Each setting runs in a fresh process: 12,000 real entry texts of March 2023 (title and summary, as
topics are matched by meaning) encoded with `MiniLM.encode_many` in batches of random sizes (1 to 150,
as a poll cycle's gated entries come), one thread; the process's RSS after the model is loaded and
after the texts, its peak, and texts per second; then 4,000 entry texts and 4,000 headlines encoded in one
call each (a backfill). Side by side, alternating, `--repeats` times.

    .venv/bin/python bench/meaning_memory.py [--texts 12000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def status() -> dict[str, int]:
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            found[line.split(":")[0]] = int(line.split()[1]) // 1024
    return found


def child(pow2: bool, count: int) -> None:
    from bench.corpus import items
    from service.stories import meaning

    texts, titles = [], []
    for it in items(months={3}):
        texts.append(((it.get("title") or "") + "\n" + (it.get("description") or ""))[:2000])
        titles.append(it.get("title") or "")
        if len(texts) >= count:
            break
    meaning.POW2_BATCHES = pow2
    model = meaning.load()
    if model is None:
        raise SystemExit("This bench needs the meaning extra (pip install -e '.[meaning]').")
    loaded = status()["VmRSS"]
    sizes = random.Random(1)
    pos, start = 0, time.perf_counter()
    while pos < len(texts):
        k = sizes.choice([1, 1, 2, 3, 5, 7, 12, 20, 37, 64, 150])
        model.encode_many(texts[pos:pos + k])
        pos += k
    seconds = time.perf_counter() - start
    after = status()
    bulk = {}
    for name, some in (("texts", texts[:4000]), ("titles", titles[:4000])):  # a backfill: many at once
        began = time.perf_counter()
        model.encode_many(some)
        bulk[name] = len(some) / (time.perf_counter() - began)
    print(json.dumps(dict(loaded=loaded, after=after["VmRSS"], peak=after["VmHWM"], rate=len(texts) / seconds,
                          **bulk)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=12_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", choices=["any", "pow2"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child == "pow2", args.texts)
        return
    print("| batches | RSS loaded | RSS after | growth | peak | texts/s | 4,000 texts at once /s | 4,000 headlines at once /s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for _ in range(args.repeats):
        for mode in ("any", "pow2"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--texts", str(args.texts)],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            name = "any size (before)" if mode == "any" else "powers of two (shipped)"
            print(f"| {name} | {r['loaded']} MB | {r['after']} MB | {r['after'] - r['loaded']} MB | {r['peak']} MB | "
                  f"{r['rate']:.0f} | {r['texts']:.0f} | {r['titles']:.0f} |")


if __name__ == "__main__":
    main()
