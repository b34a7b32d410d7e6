"""User-facing times: "7d", "24h", "90m", "2w" (ago) or a date/datetime ("2023-03-01", ISO 8601). Pure."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import InvalidInputError

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.I)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# Times outside these bounds are taken as the bound: "since 99999999999999d" means since ever, and
# "0001-01-01" would overflow as soon as anything subtracts a day from it (both were HTTP 500s).
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
_MAX_SECONDS = (LATEST - EARLIEST).total_seconds()


def parse_duration(text: str) -> timedelta:
    m = _RELATIVE.match(text or "")
    if not m:
        raise InvalidInputError(f"{text!r} is not a duration; use e.g. 30m, 24h, 7d or 2w")
    return timedelta(seconds=min(float(m.group(1)) * _UNITS[m.group(2).lower()], _MAX_SECONDS))


def clamp(value: datetime) -> datetime:
    return min(max(value, EARLIEST), LATEST)


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A relative age ("7d" = seven days ago) or an absolute date/time (UTC unless it says otherwise)."""
    now = now or datetime.now(timezone.utc)
    if _RELATIVE.match(text or ""):
        return clamp(now - parse_duration(text))
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except (ValueError, AttributeError):
        raise InvalidInputError(f"{text!r} is neither an age like 7d nor a date like 2023-03-01") from None
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable UTC time
        return EARLIEST
    return clamp(value)


def parse_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` as times; an age in `since` counts back from `until` when one is given
    (`--until 2023-02-05` alone is the default days before it, not a window that ends before it begins)."""
    until_at = parse_when(until) if until else None
    return (parse_when(since, now=until_at) if since else None), until_at
