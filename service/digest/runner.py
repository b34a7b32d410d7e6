"""The digest orchestrator: for each subscription whose period is due, claim it, build it, deliver it,
record it. `tick(now)` is what the scheduler calls every minute and once at start-up (catch-up).

Exactly once per (subscription, period): the digest_runs row is claimed in a write transaction before
anything is sent (store/digests.py: claim_run), so a restart, a second tick for the same wall-clock
time (DST fall-back) or another scheduler process finds the period taken. A sender that dies between
claim and send leaves a claim whose lease expires; the next tick after that retries it. An email run is
recorded as sent the moment the server answers 250 to DATA, before QUIT: an error at QUIT is a warning,
not a resend. The one window left is a process killed between that 250 and the commit of that one
write (docs/digest.md); the Message-ID is stable per period so mail clients can tell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import Settings
from ..db import Database
from ..errors import DeliveryError, FollowupError
from ..models import utcnow
from ..store import digests as store
from . import schedule
from .build import Digest, build_digest
from .deliver import Delivered, deliver
from .render import render

log = logging.getLogger("followup.digest")


@dataclass(frozen=True)
class RunOutcome:
    subscription_id: int
    period: str
    status: str  # sent | failed
    detail: str
    stories: int = 0


class DigestService:
    def __init__(self, db: Database, settings: Settings, owner: str,
                 deliverer: Callable[..., Delivered] = deliver):
        self.db = db
        self.settings = settings
        self.owner = owner
        self.deliverer = deliverer

    # -- building ---------------------------------------------------------------------------
    def build(self, *, topics: list[str] | None, start: datetime, end: datetime, tz: str = "UTC",
              period: str | None = None, now: datetime | None = None) -> Digest:
        now = now or utcnow()
        with self.db.read() as conn:
            chosen = store.digest_topics(conn, topics)
            rows = store.digest_rows(conn, [t.slug for t in chosen], start, end)
            firsts = store.development_first_seen(conn, rows)
        period = period or end.astimezone(schedule.zone(tz)).date().isoformat()
        return build_digest(topics=[(t.slug, t.name) for t in chosen], rows=rows, firsts=firsts, start=start, end=end, tz=tz,
                            period=period, generated_at=now, public_url=self.settings.public_url)

    # -- scheduling -------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[RunOutcome]:
        """Send every due, unsent period (one per subscription: the latest, covering any gap)."""
        now = now or utcnow()
        with self.db.read() as conn:
            subs = store.list_subscriptions(conn, active_only=True)
        outcomes = []
        for sub in subs:
            try:
                due = schedule.latest_due(now, sub.send_at, sub.timezone, sub.created_at)
            except FollowupError as exc:  # a time zone removed from the system's tz database
                log.warning("subscription %s: %s", sub.id, exc)
                continue
            if due is None:
                continue
            outcome = self._run(sub, due.period, now)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def send_now(self, sub_id: int, now: datetime | None = None) -> RunOutcome | None:
        """`followup digest --send`: deliver today's (local) period now and record it; None if it was
        already sent or is being sent."""
        now = now or utcnow()
        with self.db.read() as conn:
            sub = store.get_subscription(conn, sub_id)
        period = now.astimezone(schedule.zone(sub.timezone)).date().isoformat()
        return self._run(sub, period, now)

    def _run(self, sub, period: str, now: datetime) -> RunOutcome | None:  # noqa: ANN001
        with self.db.read() as conn:
            existing = store.get_run(conn, sub.id, period)
        if existing is not None and existing.status in ("sent", "skipped"):
            return None
        window = schedule.window(now, sub.last_window_end, self.settings.digest_max_window_hours)
        with self.db.write() as conn:
            run = store.claim_run(conn, sub.id, period, owner=self.owner, now=now,
                                  lease=timedelta(seconds=self.settings.digest_lease_seconds), window=window,
                                  max_attempts=self.settings.digest_max_attempts)
        if run is None:
            return None
        accepted = []

        def record_acceptance() -> None:
            # The mail server has the message: from here on it is sent, whatever happens to the
            # connection or to this process (docs/digest.md: the window left is this one write).
            with self.db.write() as conn:
                store.finish_run(conn, run.id, owner=self.owner, now=now, stories_=_stories(digest),
                                 body_html=render(digest, "html"))
            accepted.append(True)

        try:
            digest = self.build(topics=sub.topics, start=run.window_start, end=run.window_end, tz=sub.timezone,
                                period=period, now=now)
            if sub.skip_empty and _stories(digest) == 0:
                with self.db.write() as conn:
                    store.finish_run(conn, run.id, owner=self.owner, now=now, stories_=0, status="skipped")
                return RunOutcome(sub.id, period, "skipped", "nothing new: not sent (the subscription skips empty digests)")
            delivered = self.deliverer(self.settings, digest, sub.channel, sub.target, sub.id,
                                       on_accepted=record_acceptance)
        except (DeliveryError, FollowupError) as exc:
            if accepted:  # cannot happen with the channels here, but never mark an accepted send failed
                log.warning("digest %s/%s: after acceptance: %s", sub.id, period, exc)
                return RunOutcome(sub.id, period, "sent", f"accepted; then {exc}")
            retry_at = now + schedule.retry_delay(run.attempts)
            with self.db.write() as conn:
                store.fail_run(conn, run.id, owner=self.owner, error=str(exc), retry_at=retry_at)
            log.warning("digest %s/%s failed (attempt %s): %s", sub.id, period, run.attempts, exc)
            return RunOutcome(sub.id, period, "failed", str(exc))
        if not accepted:
            with self.db.write() as conn:
                store.finish_run(conn, run.id, owner=self.owner, now=now, stories_=_stories(digest),
                                 body_html=render(digest, "html"))
        return RunOutcome(sub.id, period, "sent", delivered.detail, _stories(digest))


def _stories(digest: Digest) -> int:
    return digest.new_count + digest.continuing_count
