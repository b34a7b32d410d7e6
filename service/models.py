"""Table definitions (SQLAlchemy 2 declarative). Queries live in service/store/; schema changes in migrations/."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python on every backend (SQLite stores naive text, PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if isinstance(value, str):  # raw text from a SQLite expression
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    # "http" feeds are polled; "file" feeds come from `followup ingest` and are never polled.
    kind: Mapped[str] = mapped_column(String(8), default="http")
    title: Mapped[str | None] = mapped_column(Text)
    site_url: Mapped[str | None] = mapped_column(String(2048))
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    entries_per_day: Mapped[float | None] = mapped_column(Float)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_feeds_due", "kind", "next_check_at"),)


class Entry(Base):
    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Entries outlive the feed they came from: removing a dead feed keeps its history.
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    # sha256 of the identity (GUID -> canonical link -> content hash); unique across all feeds.
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    guid: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # the outlet's name at ingest time
    language: Mapped[str | None] = mapped_column(String(35))
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", name="fk_entries_story", ondelete="SET NULL"))
    # Publisher + headline hash (feeds.normalize.title_key): finds syndicated copies (migration 0008).
    title_key: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_entries_published", "published_at", "id"),
        Index("ix_entries_feed", "feed_id"),
        Index("ix_entries_story", "story_id"),
        Index("ix_entries_url", "url"),
        Index("ix_entries_title_key", "title_key"),
    )


class EntrySource(Base):
    """The other feeds an entry was seen in, besides its first (entries.feed_id): one article reached
    through several feeds is one entry (0006)."""

    __tablename__ = "entry_sources"

    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_entry_sources_feed", "feed_id"),)


class Story(Base):
    """One real-world development, however many outlets reported it."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    headline: Mapped[str] = mapped_column(Text, default="")  # the earliest entry's title
    headline_entry_id: Mapped[int | None] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_stories_last_seen", "last_seen"),)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    query: Mapped[str] = mapped_column(Text)
    exclude: Mapped[str | None] = mapped_column(Text)
    # {"gsomia": ["General Security of Military Information Agreement", "지소미아"], ...}
    aliases: Mapped[dict] = mapped_column(JSON, default=dict)
    # Matching by meaning (migration 0009, service/topics/semantic.py): example items (headlines, or
    # headline + text), how the query and the similarity combine, and this topic's similarity threshold.
    examples: Mapped[list | None] = mapped_column(JSON, default=list)
    meaning: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    similarity: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    matched_terms: Mapped[list] = mapped_column(JSON, default=list)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The entry's publication time, copied (it never changes) so a topic's newest matches come from one
    # index: migration 0004, docs/performance.md.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The development on this topic the entry belongs to: the entry id of the development's first entry
    # (service/stories/develop.py; migration 0007). None until placed.
    development_id: Mapped[int | None] = mapped_column(Integer)
    # The development the entry joined when it was placed, before any later merge (migration 0012): what
    # placing later entries again replays, with the merges in `development_merges`.
    placed_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("topic_id", "entry_id", name="uq_matches_topic_entry"),
        Index("ix_matches_topic_development", "topic_id", "development_id"),
        Index("ix_matches_entry", "entry_id"),
        Index("ix_matches_topic_published", "topic_id", "published_at", "id"),
        Index("ix_matches_published", "published_at", "id"),
    )


class TopicLabel(Base):
    """A reader's judgement of one entry for one topic: relevant or not (feedback, migration 0009).
    Shown as precision/recall in backtests and used by `topics learn` (docs/topics.md)."""

    __tablename__ = "topic_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    relevant: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("topic_id", "entry_id", name="uq_topic_labels_topic_entry"),)


class Meta(Base):
    """Small key/value facts about this installation (e.g. when the seeds were first loaded)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Subscription(Base):
    """Who gets a digest, how, of which topics, and when (a local time in the subscriber's zone)."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook | dir
    target: Mapped[str] = mapped_column(Text)  # an address, a URL or a folder
    topics: Mapped[list | None] = mapped_column(JSON)  # slugs; None = all active topics
    send_at: Mapped[str] = mapped_column(String(5), default="07:00")  # HH:MM local
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # IANA name
    format: Mapped[str] = mapped_column(String(16), default="html")  # for dir/webhook bodies
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The end of the last window delivered: the next digest starts here (at most the max window back).
    last_window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))  # sent | failed | sending
    last_error: Mapped[str | None] = mapped_column(Text)
    # Send nothing on a day with nothing new (migration 0011); the run is still recorded as skipped.
    skip_empty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DigestRun(Base):
    """One digest period of one subscription. Unique on (subscription, period): claimed before sending,
    so restarts, a repeated cron fire (DST fall-back) or two schedulers never send twice."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10))  # the local date the digest is for, YYYY-MM-DD
    status: Mapped[str] = mapped_column(String(16))  # claimed | sent | failed
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stories: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # The digest as sent, in HTML (migration 0011): the archive of past digests on the web.
    body_html: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("subscription_id", "period", name="uq_digest_runs_subscription_period"),)


class DevelopmentMerge(Base):
    """Two of a topic's developments found to be one when an entry joined one of them (migration 0012;
    service/stories/develop.py): from that entry's (published_at, entry_id) on, `absorbed_id` is part of
    `into_id`. Kept so that placing later entries again can replay the state as it was."""

    __tablename__ = "development_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_id: Mapped[int] = mapped_column(Integer)
    absorbed_id: Mapped[int] = mapped_column(Integer)
    into_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_development_merges_topic_key", "topic_id", "published_at", "entry_id"),)


class DevelopmentRead(Base):
    """A development the reader has marked read on a topic's page (migration 0011): its "new" badge goes."""

    __tablename__ = "development_reads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    development_id: Mapped[int] = mapped_column(Integer)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("topic_id", "development_id", name="uq_development_reads"),)


class Alert(Base):
    """An instant alert (migration 0011): pushed through an Apprise URL within one poll cycle when a topic
    (or any topic) gets a new development, or when a development reaches `min_outlets` outlets."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))  # None: all topics
    url: Mapped[str] = mapped_column(Text)  # an Apprise URL: ntfy://…, tgram://…, json://host/path, …
    trigger: Mapped[str] = mapped_column(String(16))  # new | outlets
    min_outlets: Mapped[int | None] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Matches made before this (the alert's creation, or its last resume) are never pushed.
    active_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class AlertSent(Base):
    """One development pushed by one alert. Unique per (alert, development), and written before the push:
    never sent twice. A development's id is its first entry's, so one event on two topics is pushed once by
    an alert on every topic."""

    __tablename__ = "alert_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    development_id: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Targets of the alert's URL that failed when the rest were reached (positions, "1,3"): tried again at
    # `retry_at`, with a backoff, until they have it or `retries` runs out (service/alerts.py).
    retry_targets: Mapped[str | None] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("alert_id", "development_id", name="uq_alert_log_development"),
                      Index("ix_alert_log_retry_at", "alert_id", "retry_at"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
