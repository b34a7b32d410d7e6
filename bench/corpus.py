"""Read the real 2023 news corpus (../shared/data/rss-2023-h1.jsonl.gz) and write it out as RSS files."""

from __future__ import annotations

import gzip
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FOLLOWUP_SHARED_DATA", REPO.parent / "shared" / "data"))
CORPUS = SHARED / "rss-2023-h1.jsonl.gz"
LABELS = SHARED / "labels-2023-h1.jsonl"
TOPIC_LABELS = {"export-controls": "export_controls", "gsomia": "gsomia", "forced-labor": "forced_labor",
                "japan-korea-relations": "relations"}


def require_data() -> None:
    if not CORPUS.exists():
        raise SystemExit(f"The real-data corpus is not at {CORPUS} (set FOLLOWUP_SHARED_DATA).")


def items(limit: int | None = None, months: set[int] | None = None) -> Iterator[dict]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if limit is not None and n >= limit:
                return
            item = json.loads(line)
            if months and datetime.fromisoformat(item["date_published"]).month not in months:
                continue
            yield item


def guid(item: dict) -> str:
    """A GUID that maps a stored entry back to its corpus item (and its label)."""
    return f"rss-2023-h1/{item['id']}"


def item_id(guid_: str) -> int | None:
    prefix = "rss-2023-h1/"
    return int(guid_[len(prefix):]) if guid_ and guid_.startswith(prefix) else None


def _rss_item(item: dict) -> str:
    published = datetime.fromisoformat(item["date_published"])
    return (
        "<item>"
        f"<title>{escape(item.get('title') or '')}</title>"
        f"<link>{escape(item.get('link') or '')}</link>"
        f'<guid isPermaLink="false">{escape(guid(item))}</guid>'
        f"<description>{escape(item.get('description') or '')}</description>"
        f"<pubDate>{format_datetime(published)}</pubDate>"
        "</item>"
    )


def _write_rss(path: Path, title: str, link: str, language: str | None, rows: list[dict]) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<language>{escape(language or 'en')}</language>"
        + "".join(_rss_item(i) for i in rows) + "</channel></rss>\n",
        encoding="utf-8",
    )
    return path


def write_daily_feeds(rows: Iterator[dict], out_dir: Path) -> list[Path]:
    """One RSS 2.0 file per source and day, named YYYY-MM-DD-sourceNNN.xml: ingesting them in sorted
    order replays the month in time order, the way polling sees it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    titles: dict[str, str] = {}
    for item in rows:
        groups[(item["date_published"][:10], item["source"])].append(item)
        titles[item["source"]] = item.get("source_title") or item["source"]
    numbers = {source: n for n, source in enumerate(sorted(titles))}
    paths = []
    for (day, source), group in sorted(groups.items()):
        group.sort(key=lambda i: i["date_published"])
        path = out_dir / f"{day}-source{numbers[source]:03d}.xml"
        paths.append(_write_rss(path, titles[source], source, group[0].get("language"), group))
    return paths


def write_feeds(rows: Iterator[dict], out_dir: Path, per_file: int = 500) -> list[Path]:
    """One RSS 2.0 file per source and chunk of `per_file` items, as the source's feed would show them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[dict]] = defaultdict(list)
    titles: dict[str, str] = {}
    for item in rows:
        by_source[item["source"]].append(item)
        titles[item["source"]] = item.get("source_title") or item["source"]
    paths = []
    for s, (source, group) in enumerate(sorted(by_source.items())):
        for c in range(0, len(group), per_file):
            chunk = group[c:c + per_file]
            path = out_dir / f"source{s:03d}-{c // per_file:04d}.xml"
            paths.append(_write_rss(path, titles[source], source, chunk[0].get("language"), chunk))
    return paths


def labels() -> dict[int, dict]:
    with open(LABELS, encoding="utf-8") as f:
        return {d["id"]: d for d in map(json.loads, f)}
