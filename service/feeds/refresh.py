"""The one orchestrator: feed -> fetch -> parse -> normalize -> match -> store.

`followup poll`, `followup run` (the scheduler) and `followup ingest` all come through here.
Failures are recorded on the feed row and the run carries on with the next feed."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from ..config import Settings
from ..db import Database
from ..errors import FollowupError
from ..models import utcnow
from ..store import alerts as alert_store
from ..store._sql import aware
from ..store import developments as development_store
from ..store import entries as entry_store
from ..store import feeds as feed_store
from ..store import labels as label_store
from ..store import matches as match_store
from ..store import stories as story_store
from ..store import topics as topic_store
from ..stories.cluster import Candidate, StoryIndex
from ..stories.develop import CONTEXT, SPAN, Developer, Item, Merge, develop_pass
from ..stories.meaning import meaning_vector
from ..topics.compile import Matcher, matcher_for
from ..topics.match import make_document
from .fetch import Fetcher, FetchResult
from .normalize import normalize_feed, plain_text, xml_safe
from .parse import ParseError, parse_feed
from .schedule import Observation, SchedulePolicy, entries_per_day, next_check_at

log = logging.getLogger("followup.refresh")
# A claimed feed is ours for this long; a crashed worker's feeds become claimable again after it.
# A worker claims only what it can finish well within its lease (twice its concurrency): a big batch
# processed one by one outlived a short lease and other workers re-polled its tail (tests/test_workers.py),
# and small batches spread the feeds across workers.
CLAIM_PER_SLOT = 2


@dataclass
class FeedOutcome:
    feed_id: int
    url: str
    status: str  # ok | not_modified | unchanged | error | disabled | lease_lost
    entries: int = 0
    new: int = 0
    updated: int = 0
    matches: int = 0
    message: str | None = None  # the error, or a warning about an ill-formed but readable feed
    elapsed: float = 0.0


@dataclass
class RunSummary:
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_entries(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def new_matches(self) -> int:
        return sum(o.matches for o in self.outcomes)

    def line(self) -> str:
        return (f"{len(self.outcomes)} feeds: {self.count('ok')} read, {self.count('not_modified') + self.count('unchanged')}"
                f" unchanged, {self.count('error') + self.count('disabled')} failed; "
                f"{self.new_entries} new entries, {self.new_matches} new matches")


@dataclass(frozen=True)
class _Stored:
    """A stored entry row shaped like entries.StoredEntry, for assign_missing_stories."""

    row: object

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def entry(self):  # noqa: ANN201
        return self.row


def _new_story_stats(items, placements, new_keys) -> list[dict]:  # noqa: ANN001
    """Statistics of the stories a plan starts, from its own items (all from one outlet): what
    refresh_stories would compute, without the GROUP BY over the entries just written."""
    stats: dict = {}
    for item, placement in zip(items, placements):
        if not isinstance(placement.story, tuple):
            continue
        e = item.entry
        s = stats.get(placement.story)
        if s is None:
            stats[placement.story] = dict(headline=e.title, headline_entry_id=item.id, first_seen=e.published_at,
                                          last_seen=e.published_at, entry_count=1, source_count=1)
            continue
        s["entry_count"] += 1
        if (e.published_at, item.id) < (s["first_seen"], s["headline_entry_id"]):
            s.update(headline=e.title, headline_entry_id=item.id, first_seen=e.published_at)
        s["last_seen"] = max(s["last_seen"], e.published_at)
    return [stats[k] for k in new_keys]


# What placing a topic's entries from time t needs to read: the developments still open at t (first
# entry at most SPAN before) and the topic's vocabulary of the CONTEXT before that; and the topic's
# background meaning at t, whose vectors were each moved from the mean of the CONTEXT before them.
LOOKBACK = max(CONTEXT + SPAN, 2 * CONTEXT)


# How far a topic's checkpoint (below) trails the newest entry placed. Polling brings entries a little out
# of publication order (each feed is read at its own time), so most placements begin a few minutes or
# hours before the newest entry placed; a checkpoint this far back is before nearly all of them.
CHECKPOINT_LAG = timedelta(hours=6)


class _Seen(NamedTuple):
    """An entry a checkpoint's pass went through, as development_store.window_digest reads it back."""

    key: tuple[datetime, int]
    entry_id: int
    joined: int  # the development it joined when placed
    updated: datetime | None  # when its text was last rewritten


@dataclass
class _Checkpoint:
    """A topic's pass as this process last left it: the placer's state after every entry up to `at` (all
    published at or before at[0]), and the entries it went through from LOOKBACK before `at` on."""

    developer: Developer
    at: tuple[datetime, int]
    seen: deque[_Seen]

    def digest(self, since: datetime) -> tuple:
        """As development_store.window_digest reads it from the database, over what this checkpoint saw."""
        rows = [row for row in self.seen if row.key[0] >= since]
        return (len(rows), sum(row.entry_id for row in rows), sum(row.joined for row in rows),
                max((row.updated for row in rows if row.updated is not None), default=None))


# Per process, by (database, topic and when it was created, model). Placing a topic's new matches from its
# checkpoint reads and replays only the entries after it, where without one it replays the LOOKBACK (28
# days) before them: for a topic of 75 matches a day, polled feed document by feed document, that replay
# was most of the time polling took (bench/broad_topic.py). A checkpoint is used only when the stored
# matches up to it are still the ones it saw, placed where it placed them and with the text it read
# (anything else, from another process, a rollback, an edit, retention, a corrected headline or an entry
# older than it: the replay, as before). The pass then goes on as it would have had it never stopped
# (docs/stories.md, "Checkpoints", says how far "the same" holds; tests/stories/test_develop_store.py).
_CHECKPOINTS: OrderedDict = OrderedDict()
_CHECKPOINTS_LOCK = threading.Lock()
MAX_CHECKPOINTS = 256


def _take_checkpoint(key: tuple) -> _Checkpoint | None:
    with _CHECKPOINTS_LOCK:
        return _CHECKPOINTS.pop(key, None)  # taken: a pass that fails half-way leaves none behind


def _keep_checkpoint(key: tuple, checkpoint: _Checkpoint) -> None:
    with _CHECKPOINTS_LOCK:
        _CHECKPOINTS[key] = checkpoint
        while len(_CHECKPOINTS) > MAX_CHECKPOINTS:
            _CHECKPOINTS.popitem(last=False)


def _usable(conn, topic_id: int, first: tuple[datetime, int], kept: _Checkpoint | None) -> bool:  # noqa: ANN001
    """Whether placing from `first` can start at the checkpoint: every entry it must place is after it,
    the topic's stored matches from LOOKBACK before `first` up to it are the ones it saw, and no merge
    made from `first` on is to be undone (placing again may not make it, and the absorbed development's
    entries before the checkpoint would keep the development it was merged into)."""
    if kept is None or first <= kept.at or development_store.merged_from(conn, topic_id, first):
        return False
    since = first[0] - LOOKBACK
    return development_store.window_digest(conn, topic_id, since, kept.at) == kept.digest(since)


def develop_topics(conn, topic_ids: list[int] | None = None) -> int:  # noqa: ANN001
    """Place the topics' unplaced matches in developments, in publication order.

    Placement is a single pass in publication order, so where an entry goes depends only on the entries
    published before it: the entries before the earliest unplaced one keep their development and only
    the ones from there on are placed again. However the entries arrived (a backfill, per-source files,
    polling, a late older entry, a re-matched topic), the result is what one pass over all of them in
    publication order gives."""
    placed = 0
    meaning = meaning_vector()
    for topic_id, first in sorted(development_store.unplaced(conn, topic_ids).items()):
        development_store.lock_topic(conn, topic_id)
        key = (str(conn.engine.url), topic_id, development_store.topic_created(conn, topic_id), id(meaning))
        kept = _take_checkpoint(key)
        if _usable(conn, topic_id, first, kept):
            start, developer, seen = kept.at, kept.developer, kept.seen
        else:  # the pass from LOOKBACK before the first entry to place
            start, developer, seen = (first[0] - LOOKBACK, 0), None, deque()
        before, todo, current, updated = [], [], {}, {}
        for r in development_store.topic_items(conn, topic_id, start[0]):
            item = Item(r.entry_id, r.published_at, r.title or "", r.summary or "", r.language)
            if item.key <= start:
                continue
            joined = r.placed_id if r.placed_id is not None else r.development_id
            current[r.entry_id] = (r.development_id, r.placed_id)
            updated[r.entry_id] = aware(r.updated_at)
            if item.key < first and joined is not None:
                before.append((item, joined))
            else:
                todo.append(item)
        made_before = [Merge((m.published_at, m.entry_id), m.absorbed_id, m.into_id)
                       for m in development_store.merges_between(conn, topic_id, start[0], first)
                       if (m.published_at, m.entry_id) > start]
        newest = max(item.key for item in todo)
        keep_at = max(start, (newest[0] - CHECKPOINT_LAG, 0))
        result = develop_pass(todo, before, made_before, developer=developer, keep_at=keep_at, meaning=meaning)
        # Where each entry ends: what it joined, through every merge before and during this pass (a merge
        # made now can fold a development whose earlier entries were placed before `first`, or before the
        # checkpoint: those are moved by their development).
        joined_by = {**{item.entry_id: anchor for item, anchor in before}, **result.placed}
        placed_now = {e: (result.final(a), a) for e, a in joined_by.items()}
        for m in result.merges:
            development_store.move_development(conn, topic_id, m.absorbed, result.final(m.into))
        development_store.set_developments(conn, topic_id, {e: v for e, v in placed_now.items() if current.get(e) != v})
        development_store.replace_merges(conn, topic_id, first, [
            dict(published_at=m.key[0], entry_id=m.key[1], absorbed_id=m.absorbed, into_id=m.into) for m in result.merges])
        alert_store.carry_over(conn, [(m.absorbed, result.final(m.into)) for m in result.merges])
        seen.extend(_Seen(item.key, item.entry_id, joined_by[item.entry_id], updated[item.entry_id])
                    for item in sorted([*(i for i, _ in before), *todo], key=lambda i: i.key) if item.key <= keep_at)
        while seen and seen[0].key[0] < keep_at[0] - LOOKBACK:
            seen.popleft()
        _keep_checkpoint(key, _Checkpoint(result.checkpoint, keep_at, seen))
        placed += len(result.placed)
    return placed


def _develop_safely(conn, topic_ids: list[int]) -> int:  # noqa: ANN001
    """Development placement is an optional stage: if it fails, the matches stay unplaced (the next poll
    places them) and whatever else the transaction stores (a feed's entries) is stored all the same."""
    try:
        with conn.begin_nested():
            return develop_topics(conn, topic_ids)
    except Exception as exc:  # noqa: BLE001
        log.warning("development placement failed; the matches are placed on the next run: %s: %s",
                    type(exc).__name__, exc, exc_info=True)
        return 0


def assign_developments(db: Database, topic_ids: list[int] | None = None) -> int:
    """Place all unplaced matches, one topic per write transaction (a topic that fails is left for the
    next run; the others are placed)."""
    with db.read() as conn:
        pending = sorted(development_store.unplaced(conn, topic_ids))
    placed = 0
    for topic_id in pending:
        with db.write() as conn:
            placed += _develop_safely(conn, [topic_id])
    return placed


class _LeaseLost(Exception):
    """Our lease on a feed expired and another worker claimed it."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Pipeline:
    """Holds the compiled topics; recompiles only when the topics table changed."""

    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.policy = SchedulePolicy(
            base_seconds=settings.poll_interval_minutes * 60,
            min_seconds=settings.poll_min_interval_minutes * 60,
            max_seconds=settings.poll_max_interval_minutes * 60,
        )
        self._fingerprint: tuple | None = None
        self._matcher = Matcher([])
        self.stories = StoryIndex(window=timedelta(hours=settings.story_window_hours),
                                  threshold=settings.story_threshold) if settings.cluster_stories else None
        self._synced_id = 0  # entries up to this id are in the in-memory story index
        self._local_ids: set[int] = set()  # entries this process placed since the last sync
        self._latest: datetime | None = None  # newest publication time placed: the window's "now"
        self._placement_errors: set[str] = set()
        # Backfills store first and place afterwards, in publication order (assign_missing_stories).
        self.defer_stories = False

    def matcher(self) -> Matcher:
        with self.db.read() as conn:
            fingerprint = topic_store.topics_fingerprint(conn)
            if fingerprint != self._fingerprint:
                self._matcher = matcher_for(topic_store.topic_specs(conn),
                                            on_error=lambda spec, exc: log.warning("topic %s is skipped: %s", spec.slug, exc))
                for notice in self._matcher.notices.values():
                    log.warning("%s", notice)
                self._fingerprint = fingerprint
        return self._matcher

    # -- one document, whatever its origin ------------------------------------------------------
    def store_document(self, feed, body: bytes, content_type: str | None, *, now: datetime,  # noqa: ANN001
                       owner: str | None, extra: dict | None = None, obs: Observation | None = None) -> FeedOutcome:
        """Parse, normalize, match and store one feed document in one short write transaction."""
        try:
            parsed = parse_feed(body, content_type, feed.url, fast=self.settings.fast_parse)
        except ParseError as exc:
            return self.record_error(feed, str(exc), now=now, owner=owner, status_label="parse_error", extra=extra)
        items = normalize_feed(parsed, feed.url, now)
        matcher = self.matcher()
        parsed_title = plain_text(parsed.title) or None  # the outlet's name in pages and Atom feeds: text, not HTML
        source = feed.title or parsed_title
        rate = entries_per_day([e.published_at for e in items], now)
        obs = obs or Observation()
        obs = Observation(error_count=0, entries_per_day=rate, ttl_minutes=parsed.ttl_minutes,
                          max_age_seconds=obs.max_age_seconds)
        next_at, interval = next_check_at(now, self.policy, obs)
        values = dict(title=feed.title or parsed_title, site_url=xml_safe(parsed.site_url) or feed.site_url,
                      last_checked_at=now, last_success_at=now, last_status="200", error_count=0,
                      last_error=(f"Read with problems: {parsed.warning}" if parsed.warning else None),
                      entries_per_day=rate, next_check_at=next_at, interval_seconds=interval, **(extra or {}))
        try:
            with self.db.write() as conn:
                if not feed_store.record_fetch(conn, feed.id, owner, **values):
                    raise _LeaseLost  # rolls the transaction back: the new owner will store this poll
                stored = entry_store.upsert_entries(conn, feed.id, source, items, now)
                new_matches = []
                # A duplicate is an article stored (and matched) from another feed.
                fresh = [item for item in stored if item.status not in ("unchanged", "duplicate")]
                docs = [make_document(item.entry.title, item.entry.summary, source or "") for item in fresh]
                for item, found in zip(fresh, matcher.match_many(docs)):
                    for result in found:
                        new_matches.append(match_store.NewMatch(result.topic_id, item.id, result.score, result.terms))
                added = match_store.insert_matches(conn, new_matches, now)
                placed = None
                if not self.defer_stories:
                    matched = {m.entry_id for m in new_matches}
                    placed = self._place_safely(conn, [s for s in stored if s.status == "new" and (
                        self.settings.story_scope == "all" or s.id in matched)], now, one_outlet=True)
                    if added and self.settings.cluster_stories:
                        _develop_safely(conn, sorted({m.topic_id for m in new_matches}))
        except _LeaseLost:
            return FeedOutcome(feed.id, feed.url, "lease_lost", message="Another worker took this feed over")
        self._after_commit(placed)
        return FeedOutcome(feed.id, feed.url, "ok", entries=len(parsed.entries),
                           new=sum(s.status == "new" for s in stored),
                           updated=sum(s.status == "updated" for s in stored), matches=added,
                           message=values["last_error"])

    # -- stories --------------------------------------------------------------------------------
    def _sync_index(self, conn, now: datetime) -> None:  # noqa: ANN001
        """Bring the in-memory index up to date with entries other processes (or runs) clustered."""
        window_start = now - self.stories.window
        top = story_store.max_entry_id(conn)
        while True:
            rows = story_store.entries_for_index(conn, after_id=self._synced_id, published_since=window_start)
            for row in rows:
                if row.id not in self._local_ids:
                    self.stories.add(row.story_id, Candidate(row.title, row.summary, row.url, row.published_at, row.language))
            if not rows:
                break
            self._synced_id = rows[-1].id
        # Everything up to `top` has now been seen, including entries outside the window that the query
        # skips: without this the next sync rescanned them all (35% of a worker's time in a steady-state
        # profile with py-spy, bench/ingest.py steady).
        self._synced_id = max(self._synced_id, top)
        self._local_ids.clear()

    def _place_in_stories(self, conn, new_items, now: datetime, *, one_outlet: bool = False,  # noqa: ANN001, ANN202
                          sync: bool = True):
        """Plan story placements for new entries and write them; the index is updated after commit.
        `one_outlet`: all `new_items` come from one outlet (one feed document), so the new stories'
        statistics are computed here instead of re-read from the database."""
        if self.stories is None or not new_items:
            return None
        if sync:
            self._sync_index(conn, now)
        candidates = [Candidate(s.entry.title, s.entry.summary, s.entry.url, s.entry.published_at, s.entry.language)
                      for s in new_items]
        placements = self.stories.plan(candidates)
        new_keys = sorted({p.story for p in placements if isinstance(p.story, tuple)}, key=lambda k: k[1])
        stats = _new_story_stats(new_items, placements, new_keys) if one_outlet else None
        ids = story_store.create_stories(conn, len(new_keys), now, stats)
        new_ids = dict(zip(new_keys, ids))
        story_ids = [new_ids.get(p.story, p.story) for p in placements]
        story_store.assign_entries(conn, [(s.id, sid) for s, sid in zip(new_items, story_ids)])
        story_store.refresh_stories(conn, story_ids if stats is None else
                                    [sid for p, sid in zip(placements, story_ids) if not isinstance(p.story, tuple)])
        return candidates, placements, new_ids, [s.id for s in new_items], set(story_ids)

    def _place_safely(self, conn, new_items, now: datetime, *, one_outlet: bool = False, sync: bool = True):  # noqa: ANN001, ANN202
        """Story placement is an optional stage: if it fails, the entries and matches are stored without a
        story (a later run places them) and the log says so once — it never loses the feed."""
        try:
            with conn.begin_nested():
                return self._place_in_stories(conn, new_items, now, one_outlet=one_outlet, sync=sync)
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ not in self._placement_errors:
                self._placement_errors.add(type(exc).__name__)
                log.warning("story placement failed; entries stored without a story: %s: %s", type(exc).__name__, exc,
                            exc_info=True)
            return None  # plan() changes nothing in the index: it stays as the database has it

    def _after_commit(self, placed) -> None:  # noqa: ANN001
        if not placed:
            return
        candidates, placements, new_ids, entry_ids, touched = placed
        self.stories.commit(candidates, placements, new_ids)
        self._local_ids.update(entry_ids)
        latest = max(c.published_at for c in candidates)
        self._latest = max(self._latest or latest, latest)
        # "now" for merging is the newest time this index has placed (a backlog index has its own).
        merges = self.stories.find_merges(touched, self.stories.latest or latest)
        if merges:
            with self.db.write() as conn:
                story_store.merge_stories(conn, merges)
            for small, large in merges:
                self.stories.merge(small, large)

    def assign_missing_stories(self, batch: int = 500, before: datetime | None = None) -> int:
        """Place stored entries that have no story yet — a backfill by `followup ingest`, an upgrade, or
        clustering turned back on — in publication order, whatever order they were stored in.

        A separate index is built for the period being placed: it holds the stories already stored
        around each batch (placed by any process or run) and what this pass places, so an ingest of
        per-source files forms the same stories as polling the same days one by one (issue 13: file by
        file, the 6 March 2023 forced-labor plan became six developments instead of one). `before`: only
        entries published before it."""
        if self.stories is None:
            return 0
        main_index, self.stories = self.stories, StoryIndex(window=self.stories.window,
                                                            threshold=self.stories.threshold)
        done = 0
        loaded_until = None  # placed entries published up to here are in the backlog index
        try:
            while True:
                with self.db.write() as conn:
                    rows = story_store.entries_without_story(conn, batch, before=before,
                                                             matched_only=self.settings.story_scope == "matched")
                    if not rows:
                        break
                    first, last = rows[0].published_at, rows[-1].published_at
                    since = first - self.stories.window
                    after = since if loaded_until is None else max(loaded_until, since)
                    for row in story_store.entries_placed_between(conn, after, last):
                        self.stories.add(row.story_id, Candidate(row.title, row.summary, row.url, row.published_at,
                                                                 row.language))
                    loaded_until = last if loaded_until is None else max(loaded_until, last)
                    placed = self._place_safely(conn, [_Stored(r) for r in rows], last, sync=False)
                if placed is None:
                    break  # placement fails on these: try again on the next run, not in a loop
                self._after_commit(placed)
                done += len(rows)
        finally:
            self.stories = main_index
            if done:  # a fresh live index re-reads what this pass placed inside its window
                self._synced_id = 0
                self._local_ids.clear()
                self.stories = StoryIndex(window=main_index.window, threshold=main_index.threshold)
        return done

    def assign_developments(self) -> int:
        """Place every match not yet in a development (a backfill, a re-matched topic, an upgrade)."""
        return assign_developments(self.db) if self.settings.cluster_stories else 0

    def record_error(self, feed, message: str, *, now: datetime, owner: str | None, status_label: str,  # noqa: ANN001
                     retry_after: int | None = None, disable: bool = False, extra: dict | None = None) -> FeedOutcome:
        errors = (feed.error_count or 0) + 1
        next_at, interval = next_check_at(now, self.policy, Observation(error_count=errors, retry_after_seconds=retry_after))
        values = dict(last_checked_at=now, last_status=status_label, last_error=message, error_count=errors,
                      next_check_at=next_at, interval_seconds=interval, **(extra or {}))
        if disable:
            values["disabled_reason"] = message
        with self.db.write() as conn:
            if not feed_store.record_fetch(conn, feed.id, owner, **values):
                return FeedOutcome(feed.id, feed.url, "lease_lost", message="Another worker took this feed over")
        return FeedOutcome(feed.id, feed.url, "disabled" if disable else "error", message=message)

    # -- HTTP ----------------------------------------------------------------------------------
    def process_fetch(self, feed, result: FetchResult, *, owner: str | None, now: datetime) -> FeedOutcome:  # noqa: ANN001
        extra: dict = {}
        if result.moved_to and result.moved_to != feed.url:
            with self.db.write() as conn:
                if feed_store.change_feed_url(conn, feed.id, result.moved_to):
                    log.info("feed moved permanently", extra={"feed_id": feed.id, "feed_url": result.moved_to})
        if result.status == 410:
            outcome = self.record_error(feed, "The publisher removed this feed (HTTP 410 Gone); it will not be polled again",
                                        now=now, owner=owner, status_label="410", disable=True)
        elif result.error is not None:
            outcome = self.record_error(feed, result.error, now=now, owner=owner,
                                        status_label=str(result.status) if result.status else result.error_kind or "error",
                                        retry_after=result.retry_after_seconds)
        elif self._unchanged(feed, result):
            (outcome,) = self.record_unchanged([(feed, result, now)], owner=owner)
        else:
            extra.update(etag=result.etag, last_modified=result.last_modified, body_hash=result.body_hash)
            outcome = self.store_document(feed, result.body, result.content_type, now=now, owner=owner, extra=extra,
                                          obs=Observation(max_age_seconds=result.max_age_seconds))
        outcome.elapsed = result.elapsed
        return outcome

    @staticmethod
    def _unchanged(feed, result: FetchResult) -> bool:  # noqa: ANN001
        return result.error is None and (result.status == 304 or bool(result.body_hash and result.body_hash == feed.body_hash))

    def record_unchanged(self, done: list, *, owner: str | None) -> list[FeedOutcome]:
        """Record feeds that answered 304 (or an identical body) — most feeds on most polls — in one
        write transaction: a commit per feed made them the bottleneck of steady-state polling."""
        outcomes = []
        with self.db.write() as conn:
            for feed, result, now in done:
                status = "not_modified" if result.status == 304 else "unchanged"
                obs = Observation(entries_per_day=feed.entries_per_day, max_age_seconds=result.max_age_seconds)
                next_at, interval = next_check_at(now, self.policy, obs)
                values = dict(last_checked_at=now, last_success_at=now, last_status=str(result.status), error_count=0,
                              last_error=None, next_check_at=next_at, interval_seconds=interval)
                if result.etag:
                    values["etag"] = result.etag
                if result.last_modified:
                    values["last_modified"] = result.last_modified
                ok = feed_store.record_fetch(conn, feed.id, owner, **values)
                outcome = FeedOutcome(feed.id, feed.url, status if ok else "lease_lost")
                outcome.elapsed = result.elapsed
                outcomes.append(outcome)
        return outcomes

    async def poll(self, *, owner: str | None = None, include_not_due: bool = False,
                   on_claimed: Callable[[int], None] | None = None,
                   on_done: Callable[[FeedOutcome], None] | None = None) -> RunSummary:
        """Poll due feeds (or all with include_not_due) until none is left; return what happened."""
        owner = owner or worker_name()
        summary = RunSummary()
        await asyncio.to_thread(self.assign_missing_stories)
        await asyncio.to_thread(self.assign_developments)
        s = self.settings
        started = utcnow()
        write_lock = asyncio.Lock()  # one writer: SQLite allows no more, and parsing is CPU-bound anyway
        async with Fetcher(concurrency=s.concurrency, per_host=s.per_host_concurrency, timeout=s.fetch_timeout_seconds,
                           max_body_bytes=s.max_body_bytes, allow_private_hosts=s.allow_private_hosts) as fetcher:

            unchanged: list = []

            async def one(feed) -> None:  # noqa: ANN001
                result = await fetcher.fetch(feed.url, feed.etag, feed.last_modified)
                if self._unchanged(feed, result) and not result.moved_to:
                    unchanged.append((feed, result, utcnow()))  # recorded together after the batch
                    return
                async with write_lock:
                    try:
                        outcome = await asyncio.to_thread(self.process_fetch, feed, result, owner=owner, now=utcnow())
                    except Exception as exc:  # noqa: BLE001 - one feed's failure must not stop the run
                        log.exception("feed processing failed", extra={"feed_id": feed.id, "feed_url": feed.url})
                        outcome = await asyncio.to_thread(
                            self.record_error, feed, f"Internal error while processing the feed: {exc}",
                            now=utcnow(), owner=owner, status_label="internal_error")
                summary.outcomes.append(outcome)
                if on_done:
                    on_done(outcome)

            while True:
                with self.db.write() as conn:
                    claimed = feed_store.claim_due_feeds(
                        conn, owner, now=utcnow(), limit=max(10, CLAIM_PER_SLOT * s.concurrency), lease_seconds=s.feed_lease_seconds,
                        not_checked_since=started if include_not_due else None)
                if not claimed:
                    break
                if on_claimed:
                    on_claimed(len(claimed))
                await asyncio.gather(*(one(f) for f in claimed))
                if unchanged:
                    batch, unchanged[:] = list(unchanged), []
                    async with write_lock:
                        outcomes = await asyncio.to_thread(self.record_unchanged, batch, owner=owner)
                    for outcome in outcomes:
                        summary.outcomes.append(outcome)
                        if on_done:
                            on_done(outcome)
        return summary

    def check_now(self, feed_id: int) -> FeedOutcome:
        """Read one feed now, whatever its schedule (the web's "Check now"); blocks for one fetch."""
        from .fetch import fetch_once

        with self.db.read() as conn:
            feed = feed_store.get_feed(conn, feed_id)
        result = fetch_once(feed.url, self.settings)
        return self.process_fetch(feed, result, owner=None, now=utcnow())

    def prune(self, now: datetime | None = None) -> int:
        """Retention: delete entries that matched no topic after `retention_days`, in batches; the
        stories they belonged to are recomputed (and dropped when empty)."""
        if not self.settings.retention_days:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=self.settings.retention_days)
        total = 0
        while True:
            with self.db.write() as conn:
                removed, touched = entry_store.prune_unmatched(conn, cutoff)
                if touched:
                    story_store.refresh_stories(conn, touched)
            total += removed
            if not removed:
                break
        # Reclaim the full-text index's space in short steps (each its own write transaction, so polling
        # is never blocked for long); bounded, so a huge backlog is finished by the next runs.
        for _ in range(200 if total else 0):
            with self.db.write() as conn:
                if not entry_store.compact_fulltext(conn):
                    break
        return total

    # -- local files ---------------------------------------------------------------------------
    def ingest_file(self, path: Path, *, now: datetime | None = None) -> FeedOutcome:
        """Ingest one local feed file exactly as if it had been fetched; the file is its own feed."""
        now = now or utcnow()
        url = path.resolve().as_uri()
        with self.db.write() as conn:
            feed = feed_store.add_feed(conn, url, kind="file", exist_ok=True, now=now)
        try:
            size = path.stat().st_size
            if size > self.settings.max_body_bytes:  # the same cap as a fetched feed (one 50 MB item: 1.7 GB)
                return self.record_error(
                    feed, f"The file is larger than the {self.settings.max_body_bytes // (1024 * 1024) or 1} MB limit "
                          "(FOLLOWUP_MAX_BODY_BYTES)", now=now, owner=None, status_label="too_large")
            body = path.read_bytes()
        except OSError as exc:
            return self.record_error(feed, f"Could not read the file: {exc.strerror or exc}", now=now, owner=None,
                                     status_label="read_error")
        # A file has no Content-Type header; feedparser then flagged every one "no Content-type specified".
        # XML's own declaration says the encoding, as it does for application/xml over HTTP.
        content_type = "application/feed+json" if path.suffix.lower() == ".json" else "application/xml"
        body_hash = hashlib.sha256(body).hexdigest()
        if body_hash == feed.body_hash:
            with self.db.write() as conn:
                feed_store.record_fetch(conn, feed.id, None, last_checked_at=now)
            return FeedOutcome(feed.id, url, "unchanged")
        try:
            return self.store_document(feed, body, content_type, now=now, owner=None, extra={"body_hash": body_hash})
        except FollowupError:
            raise
        except Exception as exc:  # noqa: BLE001 - a strange file must not stop a backfill
            log.exception("ingest failed", extra={"feed_url": url})
            return self.record_error(feed, f"Internal error while reading the file: {exc}", now=now, owner=None,
                                     status_label="internal_error")


_SKIP_NAMES = {"license", "license.txt", "readme", "readme.md", "manifest.tsv", "copying"}
_SKIP_SUFFIXES = {".py", ".pyc", ".md", ".txt", ".tsv", ".csv", ".gz", ".zip", ".png", ".jpg", ".gif"}


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories walked recursively, skipping hidden, licence and source files."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                name = child.name.lower()
                if (child.is_file() and not any(p.startswith(".") for p in child.relative_to(path).parts)
                        and name not in _SKIP_NAMES and child.suffix.lower() not in _SKIP_SUFFIXES
                        and not name.endswith(".serde.json")):
                    out.append(child)
        else:
            out.append(path)
    return out


def match_backlog(db: Database, slug: str, *, replace: bool = False,
                  on_batch: Callable[[int], None] | None = None) -> int:
    """Match one topic against every stored entry (retroactive matching). With `replace` (its query
    changed), the new set of matches takes the old one's place in one transaction. Returns the number of
    matches stored (with `replace`, the topic's whole new set)."""
    with db.read() as conn:
        topic = topic_store.get_topic(conn, slug)
        spec = next((s for s in topic_store.topic_specs(conn) if s.id == topic.id), None)
    if spec is None:
        return 0  # inactive topic
    matcher = matcher_for([spec])
    if matcher.errors:
        return 0
    now = utcnow()
    found: list[match_store.NewMatch] = []
    added = 0
    # Stream the backlog from one read transaction. A new topic's matches are written batch by batch in short
    # write transactions (WAL readers and PostgreSQL snapshots allow both at once): memory stays one batch. An
    # edited topic's are gathered first (memory: its matches, not the entries) and replace the old set at once.
    with db.read() as conn:
        for rows in entry_store.iter_entries(conn):
            batch = []
            possible = [row for row in rows if matcher.could_match(row.title, row.summary, row.source or "")]
            docs = [make_document(row.title, row.summary, row.source or "") for row in possible]
            for row, results in zip(possible, matcher.match_many(docs)):
                batch += [match_store.NewMatch(result.topic_id, row.id, result.score, result.terms, row.published_at)
                          for result in results]
            if replace:
                found += batch
            elif batch:
                with db.write() as write_conn:
                    added += match_store.insert_matches(write_conn, batch, now)
            if on_batch:
                on_batch(len(rows))
    with db.write() as conn:  # what the reader marked relevant stays matched whatever the query says
        matched = {m.entry_id for m in found}
        kept = [match_store.NewMatch(topic.id, entry_id, 1.0, ["marked relevant"], published)
                for entry_id, published in label_store.relevant_entries(conn, topic.id)
                if entry_id not in matched]
        if replace:
            added = match_store.replace_topic_matches(conn, topic.id, found + kept, now).total
        else:
            added += match_store.insert_matches(conn, kept, now) if kept else 0
    if replace or added:
        assign_developments(db, [topic.id])
    return added
