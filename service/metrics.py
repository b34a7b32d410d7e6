"""Prometheus metrics. Counters are updated by this process's scheduler; stored totals are read from the
database at scrape time, so they are right whichever process did the work."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)
POLLS = Counter("followup_feed_polls", "Feed polls finished, by outcome", ["status"], registry=REGISTRY)
FETCH_ERRORS = Counter("followup_fetch_errors", "Failed polls, by kind of error", ["kind"], registry=REGISTRY)
ENTRIES = Counter("followup_entries_ingested", "New entries stored by this process", registry=REGISTRY)
MATCHES = Counter("followup_matches_found", "New matches stored by this process", registry=REGISTRY)
POLL_SECONDS = Histogram("followup_poll_cycle_seconds", "Duration of one scheduler poll cycle", registry=REGISTRY,
                         buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
DIGESTS = Counter("followup_digests", "Digest sends, by outcome", ["status"], registry=REGISTRY)


def error_kind(message: str | None, status_label: str | None) -> str:
    """A small fixed set of labels (Prometheus label values must not be unbounded)."""
    text = f"{status_label or ''} {message or ''}".lower()
    for kind, needles in (("timeout", ("timed out", "timeout")), ("dns", ("resolve", "name or service")),
                          ("connection", ("connect", "refused", "reset")), ("http", ("http ",)),
                          ("parse", ("parse", "not a feed", "well-formed")), ("size", ("too large", "size"))):
        if any(n in text for n in needles):
            return kind
    return "other"


class StoredTotals:
    """Gauges computed from the database when /metrics is scraped."""

    def __init__(self, db) -> None:  # noqa: ANN001
        self.db = db

    def collect(self):  # noqa: ANN201
        from .store.stats import stored_counts

        with self.db.read() as conn:
            counts = stored_counts(conn)
        for name in ("entries", "matches", "stories"):
            g = GaugeMetricFamily(f"followup_stored_{name}", f"{name.capitalize()} in the database")
            g.add_metric([], counts[name])
            yield g
        g = GaugeMetricFamily("followup_feeds", "Feeds in the database, by health", labels=["health"])
        g.add_metric(["failing"], counts["feeds_failing"])
        g.add_metric(["ok"], counts["feeds"] - counts["feeds_failing"])
        yield g
