"""Load the seed topics and feeds: idempotent, and never overwriting what a user changed since."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .db import Database
from .errors import InvalidInputError, NotFoundError, QueryError
from .feeds.opml import parse_opml
from .feeds.refresh import match_backlog
from .models import utcnow
from .store import feeds as feed_store
from .store import topics as topic_store
from .store.meta import get_meta, set_meta, set_meta_once
from .topics.compile import TopicSpec, compile_topic

SEEDED_KEY = "seeded_at"
BACKLOG_KEY = "seed_backlog_pending"  # seed topics added whose stored entries are not matched yet


@dataclass
class SeedReport:
    topics_added: int = 0
    topics_kept: int = 0
    feeds_added: int = 0
    feeds_kept: int = 0
    added: list[str] = field(default_factory=list)  # the slugs of the topics added
    matches: int = 0  # stored entries the added topics matched


def read_topics(path: Path) -> list[dict]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"Cannot read topics from {path}: {exc}") from exc
    topics = data.get("topic", [])
    for t in topics:
        for key in ("slug", "name") + (() if t.get("meaning") == "only" else ("query",)):
            if not t.get(key):
                raise InvalidInputError(f"A topic in {path} has no {key}")
        try:
            compile_topic(spec_of(t))
        except QueryError as exc:
            raise InvalidInputError(f"Topic {t['slug']!r} in {path} has a bad query: {exc}") from exc
    return topics


def spec_of(t: dict, topic_id: int = 0) -> TopicSpec:
    """A seed topic (a table of topics.toml) as the matcher sees it."""
    return TopicSpec(topic_id, t["slug"], (t.get("query") or "").strip(), t.get("exclude"), t.get("aliases") or {},
                     meaning=t.get("meaning", "off"), name=t.get("name", ""),
                     description=" ".join(t.get("description", "").split()),
                     examples=tuple(" ".join(e.split()) for e in t.get("examples", ())), similarity=t.get("similarity"))


def load_seeds(db: Database, seeds_dir: Path, *, on_topic: Callable[[str], None] | None = None) -> SeedReport:
    """Add the seed topics and feeds that are missing; existing ones (edited or not) are left alone. Each
    topic added is matched against the entries already stored, as `topics add` does: seeding a database
    that `followup ingest` filled first left the seed topics empty until their queries were edited.
    `on_topic(slug)` is called before each topic's backlog is read (for a progress display)."""
    report = SeedReport()
    topics = read_topics(seeds_dir / "topics.toml")
    outlines = parse_opml((seeds_dir / "feeds.opml").read_bytes())
    now = utcnow()
    with db.write() as conn:
        for t in topics:
            added = topic_store.add_topic(
                conn, t["slug"], t["name"], (t.get("query") or "").strip(),
                description=" ".join(t.get("description", "").split()), exclude=(t.get("exclude") or None),
                aliases=t.get("aliases") or {}, meaning=t.get("meaning", "off"),
                examples=list(spec_of(t).examples), similarity=t.get("similarity"), now=now, exist_ok=True)
            report.topics_added += added is not None
            if added is not None:
                report.added.append(t["slug"])
            report.topics_kept += added is None
        for o in outlines:
            before = feed_store.get_feed_by_url(conn, o.url)
            if before is None:
                feed_store.add_feed(conn, o.url, o.title, now=now)
                report.feeds_added += 1
            else:
                report.feeds_kept += 1
        set_meta_once(conn, SEEDED_KEY, now.isoformat())
        pending = _pending(conn)
        set_meta(conn, BACKLOG_KEY, ",".join(pending + [s for s in report.added if s not in pending]) or None)
    report.matches = match_pending(db, on_topic)
    return report


def _pending(conn) -> list[str]:  # noqa: ANN001
    return [slug for slug in (get_meta(conn, BACKLOG_KEY) or "").split(",") if slug]


def match_pending(db: Database, on_topic: Callable[[str], None] | None = None) -> int:
    """Match the stored entries to each seed topic added whose backlog was not read yet (a first start
    stopped half-way leaves some: they are finished on the next start or `followup seed`); the matches."""
    with db.read() as conn:
        pending = _pending(conn)
    found = 0
    for slug in pending:
        if on_topic:
            on_topic(slug)
        try:
            found += match_backlog(db, slug)
        except NotFoundError:
            pass  # removed since
        with db.write() as conn:
            set_meta(conn, BACKLOG_KEY, ",".join(s for s in _pending(conn) if s != slug) or None)
    return found


def seed_on_first_start(db: Database, seeds_dir: Path,
                        on_topic: Callable[[str], None] | None = None) -> SeedReport | None:
    """Seed only if this database was never seeded, so topics a user deleted do not come back."""
    with db.read() as conn:
        seeded = get_meta(conn, SEEDED_KEY)
    if seeded:
        match_pending(db, on_topic)
        return None
    return load_seeds(db, seeds_dir, on_topic=on_topic)
