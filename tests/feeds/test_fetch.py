"""fetch against a real loopback HTTP server (no httpx mocks)."""

import asyncio

import pytest

from service.feeds.fetch import Fetcher, parse_max_age, parse_retry_after


def fetch(url, **kw):
    opts = dict(allow_private_hosts=True, timeout=kw.pop("timeout", 2.0), max_body_bytes=kw.pop("max_body_bytes", 10 * 1024 * 1024))

    async def go():
        async with Fetcher(**opts) as f:
            return await f.fetch(url, kw.get("etag"), kw.get("last_modified"))

    return asyncio.run(go())


def test_ok_sends_user_agent_and_returns_validators(feed_server):
    r = fetch(feed_server.url("/feed/reuters.xml"))
    assert r.ok and r.status == 200 and r.body.startswith(b"<?xml")
    assert r.etag and r.last_modified and r.body_hash
    path, headers = feed_server.requests[-1]
    assert headers["user-agent"].startswith("Followup/") and "+http" in headers["user-agent"]


def test_conditional_get_gives_304_with_etag_and_with_last_modified(feed_server):
    first = fetch(feed_server.url("/feed/reuters.xml"))
    again = fetch(feed_server.url("/feed/reuters.xml"), etag=first.etag)
    assert again.status == 304 and again.not_modified and again.body == b"" and again.error is None
    by_date = fetch(feed_server.url("/feed/reuters.xml"), last_modified=first.last_modified)
    assert by_date.status == 304


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_compressed_bodies_are_decoded(feed_server, encoding):
    plain = fetch(feed_server.url("/feed/huffpost.xml"))
    packed = fetch(feed_server.url(f"/{encoding}/huffpost.xml"))
    assert packed.ok and packed.body == plain.body


def test_permanent_redirect_reports_new_url_temporary_does_not(feed_server):
    moved = fetch(feed_server.url("/moved/reuters.xml"))
    assert moved.ok and moved.moved_to == feed_server.url("/feed/reuters.xml")
    temp = fetch(feed_server.url("/temp/reuters.xml"))
    assert temp.ok and temp.moved_to is None
    mixed = fetch(feed_server.url("/chain/reuters.xml"))  # 301 then 302: not every hop permanent
    assert mixed.ok and mixed.moved_to is None


@pytest.mark.parametrize("path,status,kind", [("/gone", 410, "http"), ("/missing", 404, "http"), ("/error", 500, "http")])
def test_http_errors_are_values_not_exceptions(feed_server, path, status, kind):
    r = fetch(feed_server.url(path))
    assert r.status == status and r.error_kind == kind and r.error and not r.ok


def test_429_and_503_carry_retry_after(feed_server):
    assert fetch(feed_server.url("/ratelimit/900")).retry_after_seconds == 900
    assert fetch(feed_server.url("/unavailable")).retry_after_seconds == 120


def test_slow_server_times_out_with_a_sentence(feed_server):
    r = fetch(feed_server.url("/slow/3"), timeout=0.5)
    assert r.error_kind == "timeout" and "within" in r.error


def test_body_size_cap_stops_an_endless_body(feed_server):
    r = fetch(feed_server.url("/huge"), max_body_bytes=256 * 1024)
    assert r.error_kind == "too_large" and r.body == b""


def test_dead_host_is_a_connect_error():
    r = fetch("http://127.0.0.1:9/feed.xml")  # discard port: nothing listens
    assert r.error_kind == "connect" and r.status is None


def test_private_addresses_are_refused_by_default(feed_server):
    async def go():
        async with Fetcher(allow_private_hosts=False, timeout=2) as f:
            return await f.fetch(feed_server.url("/feed/reuters.xml"))

    r = asyncio.run(go())
    assert r.error_kind == "blocked" and "FOLLOWUP_ALLOW_PRIVATE_HOSTS" in r.error


def test_non_http_scheme_is_refused():
    r = fetch("file:///etc/passwd")
    assert r.error_kind == "protocol" and r.body == b""


def test_per_host_limit_bounds_parallel_requests(feed_server):
    async def go():
        async with Fetcher(allow_private_hosts=True, concurrency=10, per_host=1, timeout=5) as f:
            return await asyncio.gather(*(f.fetch(feed_server.url("/slow/0.3")) for _ in range(3)))

    import time

    started = time.monotonic()
    results = asyncio.run(go())
    assert all(r.ok for r in results)
    assert time.monotonic() - started >= 0.85  # three 0.3 s responses, one at a time


@pytest.mark.parametrize("value,expected", [("120", 120), ("0", 0), (None, None), ("soon", None),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", 0)])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize("value,expected", [("max-age=600", 600), ("public, s-maxage=30", 30), ("no-cache", None), (None, None)])
def test_parse_max_age(value, expected):
    assert parse_max_age(value) == expected
