"""The one settings object, read from FOLLOWUP_* environment variables (and an optional .env file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Validated configuration. Read once at the edges (CLI, scheduler) and passed down."""

    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", env_file=".env", extra="ignore")

    # A file in the working directory: zero set-up for one user; PostgreSQL for scale-out.
    database_url: str = "sqlite:///followup.db"
    # Where exports and delivered digests go by default; relative to the working directory.
    data_dir: Path = Path("data")
    # Loopback by default: the service has no login, so it must be opened to a network on purpose.
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)

    # 15 minutes is the common courtesy interval for news feeds (miniflux's default too).
    poll_interval_minutes: float = Field(15.0, gt=0)
    # Never poll faster than this even if a feed publishes constantly, never slower than the maximum.
    poll_min_interval_minutes: float = Field(5.0, gt=0)
    poll_max_interval_minutes: float = Field(24 * 60.0, gt=0)
    # How often the scheduler looks for due feeds.
    scheduler_tick_seconds: float = Field(30.0, gt=0)
    # Sockets open at once overall, and per host so one outlet is never hammered.
    concurrency: int = Field(20, ge=1, le=1000)
    per_host_concurrency: int = Field(2, ge=1, le=100)
    # Whole-request time limit; a hung server must not hold a poll slot.
    fetch_timeout_seconds: float = Field(30.0, gt=0)
    # Cap on *decoded* body bytes: a 194 KB gzip bomb became 200 MB in PITFALLS.md.
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # User-added URLs may point at internal hosts (SSRF); tests on loopback turn this on.
    allow_private_hosts: bool = False
    # Story clustering: an entry can join a story whose last entry is at most this old; 72 h covers a
    # development's follow-ups (reactions, next-day analysis) without chaining unrelated weeks.
    story_window_hours: float = Field(72.0, gt=0, le=24 * 30)
    # Join threshold of the clusterer, measured on labelled headlines (docs/stories.md).
    story_threshold: float = Field(0.03, gt=0, le=1)
    # Off only to measure ingest without it (bench) or to save CPU on a pure keyword-alert install.
    cluster_stories: bool = True
    # Which entries are grouped into global stories: "matched" (entries some topic matched: who else,
    # across your topics, covers a development; the default) or "all" (every stored entry, for browsing
    # all news with `followup stories`; story placement was most of a cold ingest's cost). A topic's own
    # developments are grouped from its matches either way (docs/stories.md).
    story_scope: Literal["matched", "all"] = "matched"
    # Group a topic's developments by meaning with the sentence-embedding model when the `meaning` extra
    # is installed (docs/stories.md); false groups them by words only.
    meaning: bool = True
    # The model's arithmetic: "auto" is bfloat16 on a CPU that has it natively (3x faster, vectors at
    # cosine >= 0.9999 to float32's), else float32 (docs/topics.md).
    meaning_precision: Literal["auto", "float32", "bfloat16"] = "auto"
    # Threads the model may use in one process. 1 by default: two processes of two threads each on two
    # cores read 2.4x slower than of one each; more only for a process alone on its cores (a backfill).
    meaning_threads: int = Field(1, ge=1, le=256)
    # Plain RSS 2.0 through the lxml fast path when it gives feedparser's results (docs/performance.md).
    fast_parse: bool = True
    # A worker's claim on a feed; a worker that dies loses its feeds to the others after this long.
    feed_lease_seconds: int = Field(600, ge=5)
    # Entries that matched no topic are deleted after this many days (matched ones and their stories
    # stay); 0 keeps everything.
    retention_days: float = Field(30.0, ge=0)
    # Digests. SMTP for email subscriptions (unset host = email subscriptions fail with a clear error).
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_tls: str = "none"  # none | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Followup <followup@localhost>"
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    # The web UI's public address, for links in digests (none: the digest has no footer links).
    public_url: str | None = None
    # A digest covers the time since the last one sent, but never more than this (a week).
    digest_max_window_hours: float = Field(168.0, gt=0)
    # How long a claimed digest run is reserved for its sender before another scheduler may retry it.
    digest_lease_seconds: float = Field(600.0, gt=0)
    # Failed sends are retried with exponential backoff (1, 2, 4 … minutes, at most an hour) this often.
    digest_max_attempts: int = Field(6, ge=1, le=100)
    # How often the scheduler checks for due digests.
    digest_tick_seconds: float = Field(60.0, gt=0)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    # The web API: writes need `Authorization: Bearer <token>` when a token is set; reads too if protected.
    api_token: str | None = None
    api_protect_reads: bool = False
    # Host names the web server answers to, comma-separated, besides the bound address, localhost and
    # FOLLOWUP_PUBLIC_URL's host ("*": any; only behind a proxy that checks Host itself).
    allowed_hosts: str = ""
    # Seed files shipped with the project.
    seeds_dir: Path = Field(default_factory=lambda: Path(__file__).resolve().parent.parent / "seeds")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql", "postgres:")):
            raise ValueError("FOLLOWUP_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("smtp_tls")
    @classmethod
    def _known_tls(cls, value: str) -> str:
        if value not in ("none", "starttls", "ssl"):
            raise ValueError("FOLLOWUP_SMTP_TLS must be none, starttls or ssl")
        return value

    @cached_property
    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.database_url)


def sqlalchemy_url(url: str) -> str:
    """Map user-facing database URLs onto the drivers we ship (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
