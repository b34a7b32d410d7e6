"""normalize: canonical URLs, identity, plain text — table-driven."""

from datetime import datetime, timedelta, timezone

import pytest

from service.feeds.normalize import canonical_url, entry_identity, normalize_entry, plain_text
from service.feeds.parse import ParsedEntry, ParsedFeed


@pytest.mark.parametrize("raw,expected", [
    ("HTTP://WWW.Example.COM:80/a?b=1#frag", "http://www.example.com/a?b=1"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://ex.com/a?utm_source=rss&utm_medium=feed&id=5", "https://ex.com/a?id=5"),
    ("https://ex.com/a?fbclid=abc", "https://ex.com/a"),
    ("https://ex.com/a?id=5&cmpid=rss", "https://ex.com/a?id=5"),
    ("tag:example.com,2023:1", "tag:example.com,2023:1"),
    ("", None),
    (None, None),
])
def test_canonical_url(raw, expected):
    assert canonical_url(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("<p>Hello <b>world</b></p>", "Hello world"),
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("Double &amp;amp; escaped", "Double & escaped"),
    ("<script>alert(1)</script>Safe", "Safe"),
    ("Line\n\n  breaks\tand   spaces", "Line breaks and spaces"),
    ("<p>one</p><p>two</p>", "one two"),
    ("&#54620;&#44397; Korea", "한국 Korea"),
    ("", ""),
    (None, ""),
])
def test_plain_text(raw, expected):
    assert plain_text(raw) == expected


def test_identity_prefers_guid_then_link_then_content():
    a = entry_identity("https://ex.com/story?utm_source=x", None, "t", "s", "http://f1")
    b = entry_identity("https://EX.com/story", "https://other", "t2", "s2", "http://f2")
    assert a == b  # URL GUIDs are canonicalized and global across feeds
    assert entry_identity(None, "https://ex.com/a", "t", "s", "f1") == entry_identity(None, "https://ex.com/a#c", "x", "y", "f2")
    assert entry_identity(None, None, "t", "s", "f1") == entry_identity(None, None, "t", "s", "f2")
    assert entry_identity(None, None, "t", "s", "f1") != entry_identity(None, None, "t", "other", "f1")


def test_short_opaque_guids_are_scoped_to_their_feed():
    assert entry_identity("1", None, "t", "s", "http://a") != entry_identity("1", None, "t", "s", "http://b")
    long_guid = "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert entry_identity(long_guid, None, "t", "s", "http://a") == entry_identity(long_guid, None, "t", "s", "http://b")


def test_future_dates_are_clamped_and_missing_dates_use_fetch_time():
    now = datetime(2023, 3, 6, tzinfo=timezone.utc)
    feed = ParsedFeed(title="f", site_url=None, language="EN-us", ttl_minutes=None)
    future = ParsedEntry("g-long-enough-guid", None, "<b>T</b>", "S", None, now + timedelta(days=30), None)
    undated = ParsedEntry(None, "http://x/1", "T", "S", None, None, None)
    assert normalize_entry(future, feed, "f", now).published_at == now
    assert normalize_entry(undated, feed, "f", now).published_at == now
    e = normalize_entry(future, feed, "f", now)
    assert e.title == "T" and e.language == "en-us"


def test_a_summary_of_stray_angle_brackets_is_read_in_linear_time():
    """A "<" that opens no tag made Python's HTMLParser rescan to the end of the text: a feed item whose
    summary was 100,000 "<a" (500 KB) took 30 s to store, quadratic. Beyond MAX_STRAY_LT such brackets are
    escaped and read as text (in a child process with a deadline far above what it takes now); a summary
    with a few reads exactly as before."""
    import subprocess
    import sys

    code = ("from service.feeds.normalize import plain_text\n"
            "text = plain_text('<p>Seoul and Tokyo</p>' + '<a' * 150_000)\n"
            "assert text.startswith('Seoul and Tokyo <a<a') and len(text) == len('Seoul and Tokyo ') + 300_000, text[:40]\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=20)
    assert plain_text("if a < b, <b>bold</b> &amp; <!-- <div>note</div> --> end") == "if a < b, bold & end"
