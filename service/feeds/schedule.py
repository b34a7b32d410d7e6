"""When to poll a feed next: a pure policy over what the last poll observed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SchedulePolicy:
    base_seconds: float = 15 * 60
    min_seconds: float = 5 * 60
    max_seconds: float = 24 * 3600
    # A quiet feed is still checked at least this often (multiples of the base interval), so a rare
    # but important post is not found a day late.
    quiet_factor: float = 4.0


@dataclass(frozen=True)
class Observation:
    """What the last poll learned about the feed."""

    error_count: int = 0
    entries_per_day: float | None = None
    ttl_minutes: int | None = None
    max_age_seconds: int | None = None  # Cache-Control: max-age
    retry_after_seconds: int | None = None


def next_interval(policy: SchedulePolicy, obs: Observation) -> float:
    """Seconds until the next poll.

    - errors: exponential backoff from the base interval, capped at the maximum;
    - healthy: about one new entry per poll (86400 / entries-per-day), between the minimum and
      quiet_factor x base;
    - the server's wishes (RSS <ttl>, Cache-Control max-age, Retry-After) are a floor, still capped.
    """
    if obs.error_count > 0:
        interval = policy.base_seconds * (2 ** min(obs.error_count - 1, 20))
    elif obs.entries_per_day and obs.entries_per_day > 0:
        interval = 86400.0 / obs.entries_per_day
        interval = min(max(interval, policy.min_seconds), policy.base_seconds * policy.quiet_factor)
    elif obs.entries_per_day == 0:
        interval = policy.base_seconds * policy.quiet_factor
    else:
        interval = policy.base_seconds
    floors = [
        obs.ttl_minutes * 60 if obs.ttl_minutes else 0,
        obs.max_age_seconds or 0,
        obs.retry_after_seconds or 0,
    ]
    interval = max(interval, *floors)
    return float(min(max(interval, policy.min_seconds), policy.max_seconds))


def next_check_at(now: datetime, policy: SchedulePolicy, obs: Observation) -> tuple[datetime, int]:
    interval = next_interval(policy, obs)
    return now + timedelta(seconds=interval), int(interval)


def entries_per_day(published: list[datetime], now: datetime, window_days: float = 7.0) -> float | None:
    """Observed publishing rate from the dates in one feed document (None if it carries no dates).

    A feed shows only its latest N items, so the rate is N over the span they cover, not over a
    fixed window: a feed whose 30 items span two hours publishes ~360 a day.
    """
    recent = sorted(p for p in published if p <= now)
    if not recent:
        return None
    oldest_allowed = now - timedelta(days=window_days)
    in_window = [p for p in recent if p >= oldest_allowed]
    if not in_window:
        return 0.0
    span_days = max((now - in_window[0]).total_seconds() / 86400.0, 1 / 24)
    return len(in_window) / span_days
