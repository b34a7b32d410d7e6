"""Build one digest object from stored rows. Pure: every format is rendered from what this returns.

Per topic, its developments (its matched entries grouped by event, service/stories/develop.py): *new
developments* first (first entry in the window), ranked by how many independent outlets covered them and
then by match score; then *continuing coverage* (older developments with new entries in the window).
Each: a headline (of its reports in the window, the one that says what most of them say:
`develop.representative_index`), a one-line summary, its outlets with links (in the same order: the headline's first), and
dates in the subscriber's time zone.

One event once per digest: a development of a later topic whose entries in the window are at least half
already shown under an earlier topic (in the subscription's order) is not shown again; the earlier one
says "also on: …" and the later topic lists it as shown above. Half, not any: one shared report must not
hide a bigger development behind a one-entry one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..stories.develop import representative_order

SUMMARY_CHARS = 220
PER_SECTION = 10
LINKS = 6


@dataclass
class Link:
    outlet: str
    title: str
    url: str | None


@dataclass
class StoryItem:
    story_id: int | None  # the global story of its first entry, if any
    status: str  # new | continuing
    headline: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    first_seen_local: str
    last_seen_local: str
    outlets: list[str]
    links: list[Link]  # one per outlet, at most LINKS
    more_links: int
    entries: int  # matched entries in the window
    story_outlets: int  # outlets in the whole story (all time)
    score: float
    also_on: list[str] = field(default_factory=list)  # later topics of this digest that matched it too
    development_id: int | None = None  # the development on its topic (its first entry's id)


@dataclass
class TopicSection:
    slug: str
    name: str
    new: list[StoryItem] = field(default_factory=list)
    continuing: list[StoryItem] = field(default_factory=list)
    more_new: int = 0
    more_continuing: int = 0
    web_url: str | None = None
    shown_above: list[str] = field(default_factory=list)  # headlines of its developments shown under an earlier topic

    @property
    def quiet(self) -> bool:
        return not self.new and not self.continuing


@dataclass
class Digest:
    title: str
    period: str
    timezone: str
    generated_at: datetime
    window_start: datetime
    window_end: datetime
    window_label: str
    sections: list[TopicSection]
    new_count: int
    continuing_count: int
    web_url: str | None = None
    api_url: str | None = None

    @property
    def subject(self) -> str:
        return (f"{self.title} {self.period}: {_count(self.new_count, 'new development')}, "
                f"{self.continuing_count} continuing")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["subject"] = self.subject
        return _jsonable(data)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The summary's first sentence or so, on one line, cut at a word boundary."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:-–—")
    return cut + "…"


def local(when: datetime, tz: ZoneInfo) -> str:
    moment = when.astimezone(tz)
    return f"{moment:%a} {moment.day} {moment:%b %Y}, {moment:%H:%M} {moment.tzname()}"


def build_digest(*, topics: list[tuple[str, str]], rows: list, start: datetime, end: datetime, tz: str,
                 firsts: dict | None = None,
                 period: str, generated_at: datetime, title: str = "Followup digest",
                 public_url: str | None = None, per_section: int = PER_SECTION) -> Digest:
    """`topics`: (slug, name) in display order; `rows`: store.digests.digest_rows output; `firsts`:
    (topic, development) -> its first entry's time (store.digests.development_first_seen)."""
    firsts = firsts or {}
    zone = ZoneInfo(tz)
    base = public_url.rstrip("/") if public_url else None
    by_topic: dict[str, dict[Any, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        key = r.development_id if r.development_id is not None else f"entry-{r.entry_id}"
        by_topic[r.topic][key].append(r)
    sections = []
    new_total = continuing_total = 0
    shown: dict[int, StoryItem] = {}  # entry id -> the item it is shown in (one event once per digest)
    for slug, name in topics:
        section = TopicSection(slug, name, web_url=f"{base}/topics/{slug}" if base else None)
        items = []
        above_ids: set[int] = set()
        for key, group in by_topic.get(slug, {}).items():
            above = _shown_above(group, shown)
            if above is not None:
                if slug not in above.also_on:
                    above.also_on.append(slug)
                if id(above) not in above_ids:  # two of its developments can be one item above
                    above_ids.add(id(above))
                    section.shown_above.append(above.headline)
                continue
            item = _story(key, group, start, zone, firsts.get((slug, key)))
            items.append(item)
            for r in group:
                shown.setdefault(r.entry_id, item)
        new = sorted((i for i in items if i.status == "new"),
                     key=lambda i: (-len(i.outlets), -i.score, i.first_seen, str(i.development_id)))
        continuing = sorted((i for i in items if i.status == "continuing"),
                            key=lambda i: (-len(i.outlets), -i.score, i.first_seen, str(i.development_id)))
        section.new, section.more_new = new[:per_section], max(0, len(new) - per_section)
        section.continuing, section.more_continuing = continuing[:per_section], max(0, len(continuing) - per_section)
        new_total += len(new)
        continuing_total += len(continuing)
        sections.append(section)
    return Digest(
        title=title, period=period, timezone=tz, generated_at=generated_at, window_start=start, window_end=end,
        window_label=f"{local(start, zone)} – {local(end, zone)}", sections=sections,
        new_count=new_total, continuing_count=continuing_total,
        web_url=base, api_url=f"{base}/api/digest" if base else None,
    )


def _shown_above(group: list, shown: dict[int, StoryItem]) -> StoryItem | None:
    """The item already shown that holds at least half of this development's entries, if any."""
    counts: dict[int, int] = defaultdict(int)
    items: dict[int, StoryItem] = {}
    for r in group:
        item = shown.get(r.entry_id)
        if item is not None:
            counts[id(item)] += 1
            items[id(item)] = item
    if not counts:
        return None
    best = max(counts, key=lambda k: counts[k])
    return items[best] if 2 * counts[best] >= len(group) else None


def _story(key: Any, group: list, start: datetime, zone: ZoneInfo, topic_first: datetime | None) -> StoryItem:
    # Rows come oldest first; the head and the links are the reports that say what most of them say.
    ranked = [group[i] for i in representative_order([r.title for r in group], [r.published_at for r in group],
                                                     [getattr(r, "language", None) for r in group])]
    head = ranked[0]
    first = group[0]
    story_first = topic_first or first.published_at
    outlets = list(dict.fromkeys(r.feed or "unknown source" for r in group))  # in the order they reported
    linked: set[str] = set()
    links: list[Link] = []
    for r in ranked:  # one report per outlet, those saying what most say first
        outlet = r.feed or "unknown source"
        if outlet not in linked:
            linked.add(outlet)
            links.append(Link(outlet, r.title or "(untitled)", r.url))
    last = max(r.published_at for r in group)
    return StoryItem(
        story_id=first.story_id, status="new" if story_first >= start else "continuing",
        headline=head.title or "(untitled)", summary=one_line(head.summary),
        first_seen=story_first, last_seen=last, first_seen_local=local(story_first, zone),
        last_seen_local=local(last, zone), outlets=outlets, links=links[:LINKS],
        more_links=max(0, len(links) - LINKS), entries=len(group),
        story_outlets=max(first.story_outlets or 0, len(outlets)), score=round(max(r.score for r in group), 3),
        development_id=key if isinstance(key, int) else None,
    )
