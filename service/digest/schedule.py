"""When a subscription's digest is due, in its own time zone. Pure functions, table-tested.

A subscription sends once per *period*: the local calendar date at its send time. The period key, not
a timer firing, decides what has been sent, so a clock that passes 01:30 twice on a DST fall-back
night, a restart, or two schedulers ticking at once all map to the same period (and the same
digest_runs row, see store/digests.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidInputError

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleError(InvalidInputError):
    """A send time or time zone the user gave that cannot be used."""


def parse_send_at(value: str) -> time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ScheduleError(f"'{value}' is not a time of day; use HH:MM, e.g. 07:00")
    return time(int(match.group(1)), int(match.group(2)))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"'{name}' is not a time zone name; use an IANA name such as Asia/Seoul or UTC") from None


def due_at(period: date, send_at: str, tz: str) -> datetime:
    """The UTC instant of `send_at` on local date `period`. On a DST fall-back night the first of the
    two wall-clock occurrences counts; on a spring-forward night a skipped time (02:30) is read with
    the offset before the change, which lands just after it."""
    local = datetime.combine(period, parse_send_at(send_at), tzinfo=zone(tz))
    return local.astimezone(timezone.utc)


@dataclass(frozen=True)
class Due:
    period: str  # local date, YYYY-MM-DD
    due_at: datetime  # UTC


def latest_due(now: datetime, send_at: str, tz: str, created_at: datetime | None = None) -> Due | None:
    """The most recent period whose send time has passed at `now`, or None if that was before the
    subscription existed (a subscription added at 10:00 for 07:00 starts tomorrow). Periods missed
    while the service was down are not sent one by one: the latest one covers the whole gap."""
    local_today = now.astimezone(zone(tz)).date()
    for day in (local_today, local_today - timedelta(days=1)):
        at = due_at(day, send_at, tz)
        if at <= now:
            if created_at is not None and at < created_at:
                return None
            return Due(day.isoformat(), at)
    return None  # pragma: no cover - yesterday's send time is always in the past


def next_due(now: datetime, send_at: str, tz: str) -> datetime:
    """The next send instant strictly after `now` (for `subscriptions list`)."""
    local_today = now.astimezone(zone(tz)).date()
    for offset in range(0, 3):
        at = due_at(local_today + timedelta(days=offset), send_at, tz)
        if at > now:
            return at
    raise AssertionError("unreachable")  # pragma: no cover


def window(now: datetime, last_window_end: datetime | None, max_hours: float) -> tuple[datetime, datetime]:
    """[start, end) of the next digest: since the last one delivered, at most `max_hours` back; the
    first digest covers the last 24 hours."""
    start = last_window_end or now - timedelta(hours=24)
    return max(start, now - timedelta(hours=max_hours)), now


def retry_delay(attempts: int) -> timedelta:
    """Backoff after `attempts` failed sends: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))
