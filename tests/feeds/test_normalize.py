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


@pytest.mark.parametrize("pattern", [
    "<a",            # a "<" that opens no tag: Python's HTMLParser rescanned to the end from each (30 s for 500 KB)
    "<a x='>' ",     # quoted attributes holding ">": the same rescan, 44 s for 144 KB
    "</a x='>' ",
    '<p x="<',
    "<!--",          # unclosed comments: feedparser's sanitizer, 5-9 s for 40,000
    "<xmp><iframe>",  # raw-text elements, whose text is read as HTML once more
    "<div>",         # nesting far deeper than libxml2's limit
])
def test_hostile_markup_is_read_in_linear_time(pattern):
    """Each pattern 150,000 times in one feed item's summary, parsed by feedparser (Atom, the full path) and
    normalized, in a child process with a deadline far above what it takes now (about a second); every one of
    them took minutes to hours before (docs/security.md rows 20-21)."""
    import subprocess
    import sys

    code = ("import html, sys\n"
            "from datetime import datetime, timezone\n"
            "from service.feeds.normalize import normalize_feed\n"
            "from service.feeds.parse import parse_feed\n"
            "doc = ('<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>x</title><entry><title>t</title><id>urn:x:1</id>'\n"
            "       '<summary type=\"html\">&lt;p&gt;Seoul and Tokyo&lt;/p&gt;' + html.escape(sys.argv[1] * 150_000)\n"
            "       + '</summary></entry></feed>')\n"
            "[entry] = normalize_feed(parse_feed(doc.encode()), 'http://127.0.0.1/f', datetime.now(timezone.utc))\n"
            "assert entry.summary.startswith('Seoul and Tokyo'), entry.summary[:40]\n")
    subprocess.run([sys.executable, "-c", code, pattern], check=True, timeout=20)


def test_a_summary_of_stray_angle_brackets_keeps_its_text():
    text = plain_text("<p>Seoul and Tokyo</p>" + "<a" * 1000)
    assert text == "Seoul and Tokyo " + "<a" * 1000  # a "<" with no ">" after it opens no tag: it is text
    assert plain_text("Costs<revenue, the CEO said") == "Costs<revenue, the CEO said"
    assert plain_text("if a < b, <b>bold</b> &amp; <!-- <div>note</div> --> end") == "if a < b, bold & end"


@pytest.mark.parametrize("raw,expected", [
    ("intro</p>more", "intro more"),  # a stray end tag still breaks the line
    ("<html><body>inner</body></html> after", "inner after"),  # text after the document's end is kept
    ("<p>a</p><noscript>enable scripts</noscript><applet>x</applet><template><p>t</p></template>b", "a b"),
    ('<p>The last LLM</p><script>if (a && b) { x = "&&&"; }</script><p>Next</p>', "The last LLM Next"),
    ('<iframe src="https://codepen.io/x">See the Pen <a href="https://codepen.io/x">Scales</a> on CodePen.</iframe>',
     "See the Pen Scales on CodePen."),  # an embed's fallback, raw text for the parser, read as HTML again
    ("<?xml version='1.0' encoding='iso-8859-1'?><p>caf\u00e9</p>", "caf\u00e9"),  # a declared encoding is ignored
    ("<div>" * 5000 + "deep", "deep"),  # past libxml2's depth limit (2,048) the parser stops: tags are cut instead
    ("Fish &chips; and more", "Fish &chips; and more"),
    ("\u2019<>\u201d", "\u2019<>\u201d"),
    ("<!-- only a comment -->", ""),
])
def test_plain_text_of_html_as_the_standard_reads_it(raw, expected):
    assert plain_text(raw) == expected


def test_a_hostile_summary_is_read_in_bounded_memory():
    """10 MB of "<p>x" (a feed's whole size cap in one summary): a tree of it held 921 MB; the text is streamed
    from the parser instead (about 100 MB peak for the whole child process, docs/security.md)."""
    import subprocess
    import sys

    code = ("from service.feeds.normalize import plain_text\n"
            "text = plain_text('<p>x' * 2_500_000)\n"
            "assert text == ' '.join(['x'] * 2_500_000), text[:20]\n"
            # VmHWM: this process's own peak (getrusage's ru_maxrss keeps the forking parent's across exec)
            "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
            "print(int(peak.split()[1]) // 1024)\n")
    done = subprocess.run([sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True)
    assert int(done.stdout.strip()) < 300, f"peak {done.stdout.strip()} MB"
