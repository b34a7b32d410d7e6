"""`followup run`: APScheduler as a ticker in this process; coordination lives in the database.

APScheduler's job store is in memory and never shared (PITFALLS.md): each tick claims due feeds with
leases, so several processes can run side by side without polling a feed twice."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from . import metrics
from .config import Settings
from .db import Database
from .alerts import AlertService
from .digest.runner import DigestService
from .feeds.refresh import FeedOutcome, Pipeline, RunSummary, worker_name
from .models import utcnow

log = logging.getLogger("followup.scheduler")


ROLES = ("worker", "scheduler")


class Service:
    """`worker` polls due feeds (claimed with leases, so any number of workers can run); `scheduler`
    sends digests and prunes old unmatched entries. `followup run` has both (and the web server)."""

    def __init__(self, db: Database, settings: Settings, *, report: Callable[[str], None] = print,
                 roles: tuple[str, ...] = ROLES):
        self.db = db
        self.settings = settings
        self.pipeline = Pipeline(db, settings)
        self.owner = worker_name()
        self.report = report
        self._busy = asyncio.Lock()
        self._digest_busy = asyncio.Lock()
        self.last_summary: RunSummary | None = None
        self.digests = DigestService(db, settings, owner=self.owner)
        self.alerts = AlertService(db, settings)
        self.roles = roles
        self.last_poll_at = None
        self.started_at = utcnow()

    async def digest_tick(self) -> None:
        """Send due digests (in a thread: SMTP and the database calls block). At start-up this is the
        catch-up: a period whose send time passed while the service was down is sent now."""
        if self._digest_busy.locked():
            return
        async with self._digest_busy:
            try:
                outcomes = await asyncio.to_thread(self.digests.tick)
            except Exception as exc:  # noqa: BLE001 - the ticker must survive a bad cycle
                log.exception("digest cycle failed")
                self.report(f"Digest cycle failed: {exc}. Will try again at the next tick.")
                return
            for o in outcomes:
                metrics.DIGESTS.labels(o.status).inc()
                if o.status == "sent":
                    self.report(f"Digest sent for subscription {o.subscription_id} ({o.period}): {o.detail}")
                elif o.status == "skipped":
                    self.report(f"Digest for subscription {o.subscription_id} ({o.period}): {o.detail}")
                else:
                    self.report(f"  ! Digest for subscription {o.subscription_id} ({o.period}) failed: {o.detail} "
                                "Will retry with backoff.")

    async def tick(self) -> None:
        """Poll whatever is due. Skipped if the previous tick is still running."""
        if self._busy.locked():
            return
        async with self._busy:
            started = time.monotonic()
            try:
                summary = await self.pipeline.poll(owner=self.owner, on_done=self._on_feed)
            except Exception as exc:  # noqa: BLE001 - the ticker must survive a bad cycle (e.g. database down)
                log.exception("poll cycle failed")
                self.report(f"Poll cycle failed: {exc}. Will try again at the next tick.")
                return
            self.last_summary = summary
            self.last_poll_at = utcnow()
            await self._alerts()
            if summary.outcomes:
                metrics.POLL_SECONDS.observe(time.monotonic() - started)
            if summary.outcomes:
                self.report(f"Polled {summary.line()}")

    async def _alerts(self) -> None:
        """Instant alerts, right after the poll that found what they announce (within one cycle)."""
        try:
            pushed = await asyncio.to_thread(self.alerts.tick)
        except Exception as exc:  # noqa: BLE001 - alerts must not stop polling
            log.exception("alert cycle failed")
            self.report(f"Alerts failed: {exc}. Will try again after the next poll.")
            return
        for p in pushed:
            self.report(f"  » Alert {p.alert_id} ({p.topic}): {p.detail}" if p.ok else
                        f"  ! Alert {p.alert_id} ({p.topic}) failed: {p.detail} {p.then}".rstrip())

    async def prune_tick(self) -> None:
        """Retention: drop entries that matched no topic after FOLLOWUP_RETENTION_DAYS."""
        try:
            removed = await asyncio.to_thread(self.pipeline.prune)
        except Exception as exc:  # noqa: BLE001 - the ticker must survive a bad cycle
            log.exception("retention failed")
            self.report(f"Retention failed: {exc}. Will try again later.")
            return
        if removed:
            self.report(f"Retention: removed {removed} unmatched entries older than "
                        f"{self.settings.retention_days:g} days.")

    def _on_feed(self, outcome: FeedOutcome) -> None:
        metrics.POLLS.labels(outcome.status).inc()
        if outcome.status in ("error", "disabled"):
            metrics.FETCH_ERRORS.labels(metrics.error_kind(outcome.message, outcome.status)).inc()
        metrics.ENTRIES.inc(outcome.new or 0)
        metrics.MATCHES.inc(outcome.matches or 0)
        if outcome.status in ("error", "disabled"):
            self.report(f"  ! {outcome.url}: {outcome.message}")
        elif outcome.new:
            self.report(f"  + {outcome.url}: {outcome.new} new entries, {outcome.matches} matches")

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        scheduler = AsyncIOScheduler(timezone="UTC")
        # misfire_grace_time: a tick that is late (busy loop, suspended laptop) still runs once;
        # coalesce: missed ticks collapse into one.
        doing = []
        if "worker" in self.roles:
            scheduler.add_job(self.tick, IntervalTrigger(seconds=self.settings.scheduler_tick_seconds, timezone="UTC"),
                              id="poll", max_instances=1, coalesce=True, misfire_grace_time=60)
            doing.append(f"due feeds every {self.settings.scheduler_tick_seconds:g} s")
        if "scheduler" in self.roles:
            # Digests: a minute tick, not one cron job per subscription. Whether a period is due and unsent
            # is decided from the database (digest_runs), so a DST fall-back, a restart or a second
            # scheduler never sends twice, and nothing lives in APScheduler's in-memory job store.
            scheduler.add_job(self.digest_tick, IntervalTrigger(seconds=self.settings.digest_tick_seconds,
                                                                timezone="UTC"),
                              id="digests", max_instances=1, coalesce=True, misfire_grace_time=60)
            scheduler.add_job(self.prune_tick, IntervalTrigger(hours=6, timezone="UTC"),
                              id="retention", max_instances=1, coalesce=True, misfire_grace_time=3600)
            doing.append(f"due digests every {self.settings.digest_tick_seconds:g} s")
        scheduler.start()
        self.report(f"Scheduler running: checking for {' and '.join(doing)} (worker {self.owner}). "
                    "Press Ctrl+C to stop.")
        first = asyncio.create_task(self.tick() if "worker" in self.roles else asyncio.sleep(0))
        catch_up = asyncio.create_task(self.digest_tick() if "scheduler" in self.roles else asyncio.sleep(0))
        try:
            await stop.wait()
        finally:
            self.report("Stopping: finishing the current poll…")
            scheduler.shutdown(wait=False)
            await asyncio.gather(first, catch_up, return_exceptions=True)
            async with self._digest_busy:
                pass
            async with self._busy:
                pass
            self.report("Stopped.")
