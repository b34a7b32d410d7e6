"""The JSON API (/api/...). Thin: every route calls the same store/topic/digest functions as the CLI.

Errors are JSON `{"detail": "<one sentence>"}`: bad input is 4xx (400 bad value, 404 unknown, 409
duplicate, 422 a query that does not compile, with `position`), never a 500.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from ..config import Settings
from ..db import Database
from ..digest import schedule
from ..digest.deliver import validate_target
from ..digest.render import render
from ..digest.runner import DigestService
from ..errors import AlreadyExistsError, InvalidInputError
from ..feeds.discover import check_feed_url, discover, looks_like_feed
from ..feeds.fetch import fetch_once
from ..feeds.opml import OutlineFeed, parse_opml, render_opml
from ..models import utcnow
from ..store import digests as digest_store
from ..store import feeds as feed_store
from ..store import matches as match_store
from ..store import stories as story_store
from ..store import topics as topic_store
from ..stories.view import load_stories
from ..timeparse import parse_when, parse_window
from ..topics import manage
from ..topics.backtest import backtest
from ..topics.compile import TopicSpec
from .auth import require_read, require_write

router = APIRouter(prefix="/api", dependencies=[Depends(require_read)])
Write = [Depends(require_write)]


def db_of(request: Request) -> Database:
    return request.app.state.db


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


DB = Annotated[Database, Depends(db_of)]
_DISCOVERY = threading.BoundedSemaphore(4)
# A row id: both databases store 64-bit integers; a larger one was an OverflowError (HTTP 500).
RowId = Annotated[int, FastPath(ge=1, le=2**63 - 1)]
SettingsDep = Annotated[Settings, Depends(settings_of)]


def _when(value: str | None) -> datetime | None:
    return parse_when(value) if value else None


# -- models ------------------------------------------------------------------------------------
class TopicIn(BaseModel):
    slug: str = Field(max_length=64, examples=["chip-curbs"])
    name: str = Field("", max_length=200)
    query: str = Field(max_length=5000, examples=['"export control*" (chip* OR semiconductor*)'])
    description: str = Field("", max_length=5000)
    exclude: str | None = Field(None, max_length=5000)
    aliases: dict[str, list[str]] | None = None
    meaning: Literal["off", "guard", "boost", "only"] = "off"
    examples: list[str] = Field(default_factory=list, max_length=50)
    similarity: float | None = Field(None, gt=0, lt=1)


class TopicPatch(BaseModel):
    name: str | None = Field(None, max_length=200)
    query: str | None = Field(None, max_length=5000)
    description: str | None = Field(None, max_length=5000)
    exclude: str | None = Field(None, max_length=5000)
    aliases: dict[str, list[str]] | None = None
    active: bool | None = None
    meaning: Literal["off", "guard", "boost", "only"] | None = None
    examples: list[str] | None = Field(None, max_length=50)
    similarity: float | None = Field(None, gt=0, lt=1)


class TopicTest(BaseModel):
    query: str = Field(max_length=5000)
    exclude: str | None = Field(None, max_length=5000)
    aliases: dict[str, list[str]] | None = None
    meaning: Literal["off", "guard", "boost", "only"] = "off"
    description: str = Field("", max_length=5000)
    examples: list[str] = Field(default_factory=list, max_length=50)
    similarity: float | None = Field(None, gt=0, lt=1)
    since: str | None = Field("30d", max_length=40, description="an age (30d) or a date; null for all entries")
    limit: int = Field(10, ge=1, le=200)


class FeedIn(BaseModel):
    url: str = Field(max_length=2000, description="a feed URL, or a site page that advertises its feeds")
    title: str | None = Field(None, max_length=300)


class SubscriptionIn(BaseModel):
    channel: Literal["email", "webhook", "dir", "apprise"]
    target: str = Field(max_length=2000, description="an email address, a webhook URL, a folder, or an Apprise URL")
    topics: list[str] | None = None
    at: str = Field("07:00", max_length=5)
    timezone: str = Field("UTC", max_length=64)
    format: Literal["text", "markdown", "html", "json"] = "html"
    skip_empty: bool = Field(False, description="send nothing on a day with nothing new")


class SubscriptionPatch(BaseModel):
    paused: bool


def _topic(row, matches: int | None = None) -> dict[str, Any]:  # noqa: ANN001
    data = dict(slug=row.slug, name=row.name, description=row.description, query=row.query, exclude=row.exclude,
                aliases=row.aliases or {}, active=row.active, created_at=row.created_at, updated_at=row.updated_at,
                meaning=row.meaning or "off", examples=list(row.examples or []), similarity=row.similarity)
    if matches is not None:
        data["matches"] = matches
    return data


# -- matches -----------------------------------------------------------------------------------
@router.get("/matches", summary="Search matches, newest first, with keyset pagination")
def matches(db: DB, topic: str | None = None, since: str | None = None, until: str | None = None,
            q: Annotated[str | None, Query(max_length=500, description="full-text search (docs/queries.md)")] = None,
            source: Annotated[str | None, Query(max_length=200)] = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 50,
            cursor: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    since_at, until_at = _when(since), _when(until)
    with db.read() as conn:
        if topic:
            topic_store.get_topic(conn, topic)
        rows = match_store.search_matches(conn, topic=topic, since=since_at, until=until_at, search=q, source=source,
                                          limit=limit, cursor=cursor)
    items = [dict(topic=r.topic, title=r.title, url=r.url, published=r.published_at, feed=r.feed, story=r.story_id,
                  score=r.score, matched_terms=r.matched_terms, entry_id=r.entry_id, guid=r.guid) for r in rows]
    next_cursor = match_store.encode_cursor(rows[-1].published_at, rows[-1].match_id) if len(rows) == limit else None
    return dict(items=items, next_cursor=next_cursor)


# -- topics ------------------------------------------------------------------------------------
@router.get("/topics", summary="All topics with their match counts")
def list_topics(db: DB) -> list[dict]:
    with db.read() as conn:
        return [_topic(t, match_store.count_matches(conn, t.id)) for t in topic_store.list_topics(conn)]


@router.get("/topics/{slug}", summary="One topic")
def get_topic(db: DB, slug: str) -> dict:
    with db.read() as conn:
        t = topic_store.get_topic(conn, slug)
        return _topic(t, match_store.count_matches(conn, t.id))


@router.post("/topics", status_code=201, dependencies=Write, summary="Create a topic (and match the stored entries)")
def create_topic(db: DB, settings: SettingsDep, body: TopicIn, response: Response) -> dict:
    row, added = manage.create_topic(db, body.slug, body.name or body.slug, body.query, description=body.description,
                                     exclude=body.exclude or None, aliases=body.aliases, meaning=body.meaning,
                                     examples=body.examples, similarity=body.similarity, settings=settings)
    response.headers["Location"] = f"/api/topics/{row.slug}"
    return _topic(row, added)


@router.patch("/topics/{slug}", dependencies=Write, summary="Change a topic (a new query re-matches)")
def update_topic(db: DB, settings: SettingsDep, slug: str, body: TopicPatch) -> dict:
    row, rematched = manage.edit_topic(db, slug, name=body.name, query=body.query, description=body.description,
                                       exclude=body.exclude, aliases=body.aliases, active=body.active,
                                       meaning=body.meaning, examples=body.examples, similarity=body.similarity,
                                       settings=settings)
    return _topic(row) | ({"rematched": rematched} if rematched is not None else {})


@router.delete("/topics/{slug}", status_code=204, dependencies=Write, summary="Delete a topic and its matches")
def delete_topic(db: DB, slug: str) -> Response:
    with db.write() as conn:
        topic_store.remove_topic(conn, slug)
    return Response(status_code=204)


class LabelIn(BaseModel):
    entry_id: int
    relevant: bool


@router.post("/topics/{slug}/labels", status_code=201, dependencies=Write,
             summary="Mark an entry relevant or not relevant to a topic (feedback)")
def add_label(db: DB, slug: str, body: LabelIn) -> dict:
    from ..topics.learn import label, score_labels

    entry_id, title = label(db, slug, str(body.entry_id), body.relevant)
    scored = score_labels(db, slug)
    return dict(entry_id=entry_id, title=title, relevant=body.relevant, score=_label_score(scored))


@router.get("/topics/{slug}/labels", summary="A topic's labels and how the topic does on them")
def list_labels(db: DB, slug: str) -> dict:
    from ..store import labels as label_store
    from ..topics.learn import score_labels

    with db.read() as conn:
        topic = topic_store.get_topic(conn, slug)
        rows = label_store.topic_labels(conn, topic.id)
    return dict(labels=[dict(entry_id=r.entry_id, relevant=r.relevant, title=r.title, labelled_at=r.created_at)
                        for r in rows], score=_label_score(score_labels(db, slug)))


class ReadIn(BaseModel):
    development_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default_factory=list, max_length=10_000)
    all_since: str | None = Field(None, max_length=40, description="mark every development active since this age "
                                  "(90d) or date read")


@router.post("/topics/{slug}/read", dependencies=Write, summary="Mark developments read (their \"new\" badge goes)")
def mark_read(db: DB, slug: str, body: ReadIn) -> dict:
    from ..store import developments as development_store

    with db.write() as conn:
        topic = topic_store.get_topic(conn, slug)
        ids = list(body.development_ids)
        if body.all_since is not None:
            ids += [d["id"] for d in development_store.list_developments(conn, topic.id, since=_when(body.all_since),
                                                                         limit=10_000)]
        marked = development_store.mark_read(conn, topic.id, ids, utcnow())
    return dict(marked=marked)


class LearnIn(BaseModel):
    meaning: Literal["guard", "boost", "only"] | None = None
    apply: bool = False


@router.post("/topics/{slug}/learn", dependencies=Write, summary="Learn from the topic's labels: before/after")
def learn_topic(db: DB, settings: SettingsDep, slug: str, body: LearnIn) -> dict:
    from ..topics.learn import apply, learn

    lesson = learn(db, slug, body.meaning)
    rematched = apply(db, lesson, settings) if body.apply else None
    return dict(before=_label_score(lesson.before), after=_label_score(lesson.after), meaning=lesson.spec.meaning,
                similarity=lesson.spec.similarity, added_examples=lesson.added_examples, applied=body.apply,
                rematched=rematched)


def _label_score(scored) -> dict | None:  # noqa: ANN001
    if scored is None:
        return None
    return dict(labels=scored.labels, relevant=scored.relevant, precision=round(scored.precision, 3),
                recall=round(scored.recall, 3), f1=round(scored.f1, 3))


@router.post("/topics/test", summary="Backtest a query on stored entries before saving it")
def test_topic(db: DB, body: TopicTest) -> dict:
    fields = manage.meaning_fields(body.meaning, body.examples)
    manage.validate("test", body.query, body.exclude, body.aliases, description=body.description,
                    similarity=body.similarity, **fields)
    since_at = _when(body.since)
    result = backtest(db, TopicSpec(0, "test", body.query, body.exclude, body.aliases or {}, description=body.description,
                                    similarity=body.similarity, **fields), since_at)
    return result.to_dict(body.limit)


@router.get("/topics/{slug}/timeline", summary="A topic's developments (its matches grouped by event), newest first")
def timeline(db: DB, slug: str, since: str | None = "90d", until: str | None = None,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    since_at, until_at = parse_window(since, until)
    return load_stories(db, topic=slug, since=since_at, until=until_at, limit=limit)


# -- stories -----------------------------------------------------------------------------------
@router.get("/stories", summary="Stories active in a window, with their entries; with `topic`, its developments")
def list_stories(db: DB, topic: str | None = None, since: str | None = "7d", until: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict]:
    since_at, until_at = parse_window(since, until)
    return load_stories(db, topic=topic, since=since_at, until=until_at, limit=limit)


@router.get("/stories/{story_id}", summary="One story with its entries")
def get_story(db: DB, story_id: RowId) -> dict:
    with db.read() as conn:
        r = story_store.get_story(conn, story_id)
        members = story_store.story_entries(conn, [r.id]).get(r.id, [])
    return dict(id=r.id, headline=r.headline, first_seen=r.first_seen, last_seen=r.last_seen, outlets=r.source_count,
                entry_count=r.entry_count,
                entries=[dict(guid=e.guid, url=e.url, title=e.title, feed=e.feed, published=e.published_at)
                         for e in members])


# -- feeds -------------------------------------------------------------------------------------
def _feed(f, now: datetime) -> dict:  # noqa: ANN001
    return dict(id=f.id, url=f.url, title=f.title, kind=f.kind, last_status=f.last_status, last_error=f.last_error,
                error_count=f.error_count, last_checked_at=f.last_checked_at, next_check_at=f.next_check_at,
                disabled_reason=f.disabled_reason, healthy=not f.last_error and not f.disabled_reason)


@router.get("/feeds", summary="Feeds with their health")
def list_feeds(db: DB) -> list[dict]:
    now = utcnow()
    with db.read() as conn:
        return [_feed(f, now) for f in feed_store.list_feeds(conn)]


@router.post("/feeds", status_code=201, dependencies=Write,
             summary="Add a feed; given a site page, discover and add the feed it advertises")
def add_feed(db: DB, settings: SettingsDep, body: FeedIn) -> Any:
    url = check_feed_url(body.url)
    with db.read() as conn:
        if feed_store.get_feed_by_url(conn, url):
            raise AlreadyExistsError(f"The feed {url} is already there")
    # Each check holds a worker thread for up to the fetch timeout: a few at a time, so 45 parallel adds
    # of a silent host cannot take every thread and starve the pages and /healthz (issue 12).
    if not _DISCOVERY.acquire(blocking=False):
        return JSONResponse({"detail": "Busy checking other feeds; try again in a few seconds"}, status_code=503,
                            headers={"Retry-After": "5"})
    try:
        fetched = fetch_once(url, settings)
    finally:
        _DISCOVERY.release()
    if fetched.error:
        raise InvalidInputError(f"Could not fetch {url}: {fetched.error}")
    discovered: list[tuple[str, str | None]] = []
    if not looks_like_feed(fetched.body, fetched.content_type):
        discovered = discover(fetched.url or url, fetched.body, fetched.content_type)
        if not discovered:
            raise InvalidInputError(f"{url} is neither a feed nor a page that advertises one")
        url = discovered[0][0]
    with db.write() as conn:
        if feed_store.get_feed_by_url(conn, url):
            raise AlreadyExistsError(f"The feed {url} is already there")
        row = feed_store.add_feed(conn, url, body.title or (discovered[0][1] if discovered else None))
    return _feed(row, utcnow()) | {"discovered": [u for u, _ in discovered]}


@router.delete("/feeds/{feed_id}", status_code=204, dependencies=Write, summary="Remove a feed (its entries stay)")
def remove_feed(db: DB, feed_id: RowId) -> Response:
    with db.write() as conn:
        feed_store.remove_feed(conn, feed_id)
    return Response(status_code=204)


class FeedPatch(BaseModel):
    paused: bool


@router.patch("/feeds/{feed_id}", dependencies=Write, summary="Pause or resume polling a feed")
def patch_feed(db: DB, feed_id: RowId, body: FeedPatch) -> dict:
    with db.write() as conn:
        row = feed_store.pause_feed(conn, feed_id) if body.paused else feed_store.enable_feed(conn, feed_id)
    return _feed(row, utcnow())


@router.post("/feeds/{feed_id}/check", dependencies=Write, summary="Read a feed now, whatever its schedule")
def check_feed(db: DB, settings: SettingsDep, feed_id: RowId) -> dict:
    from ..feeds.refresh import Pipeline

    with db.read() as conn:
        feed = feed_store.get_feed(conn, feed_id)
    if feed.disabled_reason:
        raise InvalidInputError(f"The feed is disabled ({feed.disabled_reason}): resume it first")
    if not _DISCOVERY.acquire(blocking=False):
        return JSONResponse({"detail": "Busy checking other feeds; try again in a few seconds"}, status_code=503,
                            headers={"Retry-After": "5"})
    try:
        outcome = Pipeline(db, settings).check_now(feed_id)
    finally:
        _DISCOVERY.release()
    with db.read() as conn:
        row = feed_store.get_feed(conn, feed_id)
    return _feed(row, utcnow()) | dict(status=outcome.status, new_entries=outcome.new, new_matches=outcome.matches,
                                       message=outcome.message)


@router.get("/feeds.opml", response_class=PlainTextResponse, summary="Export the feeds as OPML")
def export_opml(db: DB) -> PlainTextResponse:
    with db.read() as conn:
        feeds = [OutlineFeed(f.url, f.title) for f in feed_store.list_feeds(conn, kind="http")]
    return PlainTextResponse(render_opml(feeds), media_type="text/x-opml")


@router.post("/feeds.opml", dependencies=Write, summary="Import feeds from an OPML document (the request body)")
def import_opml(db: DB, body: Annotated[str, Body(media_type="text/x-opml", max_length=5_000_000)]) -> dict:
    outlines = parse_opml(body.encode())
    added = skipped = 0
    invalid: list[str] = []
    with db.write() as conn:
        for o in outlines:
            try:  # the same rule as adding one feed: http(s) only (no file:, javascript: or junk)
                url = check_feed_url(o.url)
            except InvalidInputError:
                invalid.append(o.url[:200])
                continue
            if feed_store.get_feed_by_url(conn, url):
                skipped += 1
            else:
                feed_store.add_feed(conn, url, o.title)
                added += 1
    return dict(added=added, already_there=skipped, invalid=len(invalid), invalid_urls=invalid[:20])


# -- subscriptions and digests -------------------------------------------------------------------
def _subscription(s, now: datetime) -> dict:  # noqa: ANN001
    next_at = None if s.paused else schedule.next_due(now, s.send_at, s.timezone)
    from ..alerts import shown_target

    return dict(id=s.id, channel=s.channel, target=shown_target(s.channel, s.target), topics=s.topics, at=s.send_at, timezone=s.timezone,
                format=s.format, paused=s.paused, next_send=next_at, last_sent_at=s.last_sent_at,
                last_status=s.last_status, last_error=s.last_error, skip_empty=s.skip_empty)


@router.get("/subscriptions", summary="Digest subscriptions with next send time and last status")
def list_subscriptions(db: DB) -> list[dict]:
    now = utcnow()
    with db.read() as conn:
        return [_subscription(s, now) for s in digest_store.list_subscriptions(conn)]


@router.post("/subscriptions", status_code=201, dependencies=Write, summary="Subscribe to a daily digest")
def add_subscription(request: Request, db: DB, body: SubscriptionIn) -> dict:
    target = validate_target(body.channel, body.target, request.app.state.settings)
    send_at = schedule.parse_send_at(body.at).strftime("%H:%M")
    schedule.zone(body.timezone)
    now = utcnow()
    with db.write() as conn:
        if body.topics:
            digest_store.digest_topics(conn, body.topics)
        row = digest_store.add_subscription(conn, channel=body.channel, target=target, topics_=body.topics or None,
                                            send_at=send_at, tz=body.timezone, fmt=body.format, now=now,
                                            skip_empty=body.skip_empty)
    return _subscription(row, now)


@router.patch("/subscriptions/{sub_id}", dependencies=Write, summary="Pause or resume a subscription")
def patch_subscription(db: DB, sub_id: RowId, body: SubscriptionPatch) -> dict:
    with db.write() as conn:
        row = digest_store.set_paused(conn, sub_id, body.paused)
    return _subscription(row, utcnow())


@router.delete("/subscriptions/{sub_id}", status_code=204, dependencies=Write, summary="Delete a subscription")
def delete_subscription(db: DB, sub_id: RowId) -> Response:
    with db.write() as conn:
        digest_store.remove_subscription(conn, sub_id)
    return Response(status_code=204)


# -- instant alerts ------------------------------------------------------------------------------
class AlertIn(BaseModel):
    url: str = Field(max_length=2000, description="an Apprise URL: ntfy://topic, tgram://token/chat, json://host/path, …")
    topic: str | None = Field(None, description="a topic's slug; null for every topic")
    min_outlets: int | None = Field(None, ge=2, le=1000, description="alert when a development reaches this many "
                                    "outlets; null: alert on every new development")


class AlertPatch(BaseModel):
    paused: bool


def _alert(a) -> dict:  # noqa: ANN001
    from ..alerts import describe

    return describe(a)


@router.get("/alerts", summary="Instant alerts (URLs shown by scheme only: they carry tokens)")
def list_alerts(db: DB) -> list[dict]:
    from ..store import alerts as alert_store

    with db.read() as conn:
        return [_alert(a) for a in alert_store.list_alerts(conn)]


@router.post("/alerts", status_code=201, dependencies=Write, summary="Push a notification when a topic moves")
def add_alert(db: DB, settings: SettingsDep, body: AlertIn) -> dict:
    from ..alerts import check_alert_url
    from ..store import alerts as alert_store

    url = check_alert_url(body.url, settings)
    with db.write() as conn:
        topic_id = topic_store.get_topic(conn, body.topic).id if body.topic else None
        row = alert_store.add_alert(conn, url=url, topic_id=topic_id, trigger="outlets" if body.min_outlets else "new",
                                    min_outlets=body.min_outlets, now=utcnow())
    return _alert(row)


@router.patch("/alerts/{alert_id}", dependencies=Write, summary="Pause or resume an alert")
def patch_alert(db: DB, alert_id: RowId, body: AlertPatch) -> dict:
    from ..store import alerts as alert_store

    with db.write() as conn:
        return _alert(alert_store.set_paused(conn, alert_id, body.paused))


@router.post("/alerts/{alert_id}/test", dependencies=Write, summary="Send one test notification through an alert")
def test_alert(db: DB, settings: SettingsDep, alert_id: RowId) -> dict:
    from ..alerts import push
    from ..store import alerts as alert_store

    with db.read() as conn:
        alert = alert_store.get_alert(conn, alert_id)
    push(alert.url, "Followup test notification", f"Alert {alert.id} ({alert.topic or 'every topic'}) reaches you.",
         settings)
    return dict(sent=True)


@router.delete("/alerts/{alert_id}", status_code=204, dependencies=Write, summary="Delete an alert")
def delete_alert(db: DB, alert_id: RowId) -> Response:
    from ..store import alerts as alert_store

    with db.write() as conn:
        alert_store.remove_alert(conn, alert_id)
    return Response(status_code=204)


@router.get("/digest", summary="Build a digest now (nothing is sent)")
def get_digest(db: DB, settings: SettingsDep, topics: str | None = None, since: str | None = "24h",
               until: str | None = None, tz: Annotated[str, Query(max_length=64)] = "UTC",
               format: Annotated[str, Query(pattern="^(text|markdown|html|json)$")] = "json") -> Response:  # noqa: A002
    schedule.zone(tz)
    end = _when(until) or utcnow()
    start = _when(since) or end
    if start >= end:
        raise InvalidInputError("The window is empty: since must be before until")
    slugs = [s.strip() for s in (topics or "").split(",") if s.strip()] or None
    built = DigestService(db, settings, owner="api").build(topics=slugs, start=start, end=end, tz=tz)
    body = render(built, format)
    media = {"json": "application/json", "html": "text/html", "markdown": "text/markdown", "text": "text/plain"}[format]
    return Response(body, media_type=f"{media}; charset=utf-8")

