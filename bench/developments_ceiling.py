"""How far can headline grouping go on clusters-dev.csv at all? A ceiling for issue 13's targets.

    python bench/developments_ceiling.py

The service groups one entry at a time in publication order (it must: a digest cannot wait for next
week's news). This bench drops that constraint and clusters everything *at once* with average-link
hierarchical clustering (scipy), over similarities that mix headline meaning (all-MiniLM-L6-v2) and
headline words (TF-IDF, idf from the month): weight `a` on meaning, 1 - a on words. It prints the B³
figures at several cut heights, so the best any cut reaches is visible; an offline, hindsight method
tuned on the answer is an upper bound for the online one, not a candidate for it.

In-stream uses only the stream items from one day before the first labelled headline to one day after
the last (about 4,500 of March 2023's 44,733 items): fewer distractors than the real measure, so this
ceiling is generous. Needs the `meaning` extra (sentence-transformers, scikit-learn, scipy come with it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stories_eval import bcubed, bcubed_subset, in_stream, load  # noqa: E402
from service.stories.meaning import model_path  # noqa: E402

CUTS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85)
MIXES = (1.0, 0.85, 0.7, 0.5)


def score(rows: list[dict], pred: list) -> tuple[float, float, float]:
    gold = [r["STORY"] for r in rows]
    marked = [i for i, r in enumerate(rows) if not r["STORY"].startswith("stream-")]
    return bcubed_subset(pred, gold, marked) if len(marked) < len(rows) else bcubed(pred, gold)


def main() -> None:
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sentence_transformers import SentenceTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    alone = load()
    mixed = in_stream(alone)
    stamps = [int(r["TIMESTAMP"]) for r in mixed if not r["STORY"].startswith("stream-")]
    day = 86_400_000
    window = [r for r in mixed if min(stamps) - day <= int(r["TIMESTAMP"]) <= max(stamps) + day]
    words = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit([r["TITLE"] for r in mixed])
    model = SentenceTransformer(str(model_path()), device="cpu")
    print("Average-link clustering of all headlines at once (hindsight; an upper bound, not the service).")
    print("Cells: B³ precision / recall / F1 at each cut (1 - similarity).\n")
    for name, rows in (("alone", alone), (f"in-stream, ±1 day ({len(window):,} items)", window)):
        titles = [r["TITLE"] for r in rows]
        meaning = model.encode(titles, batch_size=128, normalize_embeddings=True).astype("float64")
        lexical = normalize(words.transform(titles))
        by_meaning, by_words = meaning @ meaning.T, (lexical @ lexical.T).toarray()
        print(f"{name}\n")
        print("| meaning weight | " + " | ".join(f"cut {c}" for c in CUTS) + " |")
        print("|---:|" + "---|" * len(CUTS))
        for a in MIXES:
            distance = np.clip(1.0 - (a * by_meaning + (1 - a) * by_words), 0.0, 2.0)
            np.fill_diagonal(distance, 0.0)
            tree = linkage(squareform(distance, checks=False), method="average")
            cells = []
            for cut in CUTS:
                p, r, f = score(rows, list(fcluster(tree, cut, criterion="distance")))
                cells.append(f"{p:.3f} / {r:.3f} / {f:.3f}")
            print(f"| {a} | " + " | ".join(cells) + " |", flush=True)
        print()


if __name__ == "__main__":
    main()
