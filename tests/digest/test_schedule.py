"""When digests are due: local send times, DST nights, catch-up, windows, backoff. Pure, table-tested."""

from datetime import datetime, timedelta, timezone

import pytest

from service.digest import schedule

UTC = timezone.utc


@pytest.mark.parametrize("now, send_at, tz, period, due", [
    # 07:00 in Seoul (UTC+9, no DST) is 22:00 UTC the day before.
    ("2026-11-24T21:59:00", "07:00", "Asia/Seoul", "2026-11-24", "2026-11-23T22:00:00"),
    ("2026-11-24T22:00:00", "07:00", "Asia/Seoul", "2026-11-25", "2026-11-24T22:00:00"),
    ("2026-11-25T12:00:00", "07:00", "Asia/Seoul", "2026-11-25", "2026-11-24T22:00:00"),
    ("2026-11-25T06:59:59", "07:00", "UTC", "2026-11-24", "2026-11-24T07:00:00"),
    # New York, fall-back night 2026-11-01: 01:30 happens twice (05:30 and 06:30 UTC); the first counts.
    ("2026-11-01T05:30:00", "01:30", "America/New_York", "2026-11-01", "2026-11-01T05:30:00"),
    ("2026-11-01T06:30:00", "01:30", "America/New_York", "2026-11-01", "2026-11-01T05:30:00"),
    # Spring-forward night 2026-03-08: 02:30 does not exist; it is sent once, just after the jump.
    ("2026-03-08T07:30:00", "02:30", "America/New_York", "2026-03-08", "2026-03-08T07:30:00"),
    ("2026-03-08T07:29:00", "02:30", "America/New_York", "2026-03-07", "2026-03-07T07:30:00"),
])
def test_latest_due_period(now, send_at, tz, period, due):
    got = schedule.latest_due(datetime.fromisoformat(now).replace(tzinfo=UTC), send_at, tz)
    assert got == schedule.Due(period, datetime.fromisoformat(due).replace(tzinfo=UTC))


def test_a_fall_back_night_maps_both_wall_clock_fires_to_one_period():
    fires = [datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)]
    assert {schedule.latest_due(f, "01:30", "America/New_York").period for f in fires} == {"2026-11-01"}


def test_a_subscription_does_not_send_periods_from_before_it_existed():
    created = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 10:00 in Seoul, after today's 07:00
    assert schedule.latest_due(created + timedelta(hours=1), "07:00", "Asia/Seoul", created) is None
    tomorrow = schedule.latest_due(datetime(2026, 11, 25, 22, 0, tzinfo=UTC), "07:00", "Asia/Seoul", created)
    assert tomorrow.period == "2026-11-26"


def test_after_downtime_only_the_latest_period_is_due():
    # Down from the 20th to the 25th: one digest (the 25th's), not five.
    got = schedule.latest_due(datetime(2026, 11, 25, 23, 0, tzinfo=UTC), "07:00", "Asia/Seoul")
    assert got.period == "2026-11-26"


def test_next_due_and_windows_and_backoff():
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert schedule.next_due(now, "07:00", "Asia/Seoul") == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert schedule.window(now, None, 168) == (now - timedelta(hours=24), now)
    last = now - timedelta(days=3)
    assert schedule.window(now, last, 168) == (last, now)
    assert schedule.window(now, now - timedelta(days=30), 168) == (now - timedelta(hours=168), now)
    assert [schedule.retry_delay(n).total_seconds() / 60 for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]


@pytest.mark.parametrize("bad", ["7", "25:00", "07:60", "seven"])
def test_bad_send_times_are_one_sentence(bad):
    with pytest.raises(schedule.ScheduleError, match="HH:MM"):
        schedule.parse_send_at(bad)


def test_bad_time_zones_are_one_sentence():
    with pytest.raises(schedule.ScheduleError, match="IANA"):
        schedule.zone("Mars/Olympus")
