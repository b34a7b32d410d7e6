"""The scheduling policy is pure: table-driven."""

from datetime import datetime, timedelta, timezone

import pytest

from service.feeds.schedule import Observation, SchedulePolicy, entries_per_day, next_check_at, next_interval

P = SchedulePolicy(base_seconds=900, min_seconds=300, max_seconds=86400, quiet_factor=4)


@pytest.mark.parametrize("obs,expected", [
    (Observation(), 900),                                   # nothing known: the base interval
    (Observation(entries_per_day=96), 900),                 # one entry per 15 min -> 15 min
    (Observation(entries_per_day=1000), 300),               # very busy: never faster than the minimum
    (Observation(entries_per_day=2), 3600),                 # quiet: at most quiet_factor x base
    (Observation(entries_per_day=0), 3600),                 # nothing in a week: same
    (Observation(error_count=1), 900),                      # first error: base
    (Observation(error_count=2), 1800),                     # then doubling
    (Observation(error_count=4), 7200),
    (Observation(error_count=30), 86400),                   # capped at the maximum
    (Observation(ttl_minutes=120), 7200),                   # the feed's <ttl> is a floor
    (Observation(max_age_seconds=1200), 1200),              # Cache-Control max-age is a floor
    (Observation(error_count=1, retry_after_seconds=3600), 3600),  # Retry-After beats the backoff
    (Observation(retry_after_seconds=10 ** 9), 86400),      # but is capped too
])
def test_next_interval(obs, expected):
    assert next_interval(P, obs) == expected


def test_next_check_at_adds_the_interval():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    at, interval = next_check_at(now, P, Observation())
    assert at == now + timedelta(seconds=900) and interval == 900


def test_entries_per_day_uses_the_span_the_items_cover():
    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    two_hours = [now - timedelta(minutes=4 * i) for i in range(30)]  # 30 items over 2 hours
    assert 300 < entries_per_day(two_hours, now) < 400
    assert entries_per_day([], now) is None
    assert entries_per_day([now - timedelta(days=30)], now) == 0.0
