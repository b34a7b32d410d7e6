"""One digest object, four formats: golden files, escaping of hostile feed text, and the build rules.

The digest here is built from fixed rows (as store.digests.digest_rows returns them) so the golden
files test rendering alone; tests/digest/test_delivery.py builds digests from a real database.
Regenerate the golden files after an intended change with: FOLLOWUP_UPDATE_GOLDEN=1 pytest tests/digest
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from email import message_from_string
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from service.digest.build import build_digest, one_line
from service.digest.render import FORMATS, md_escape, render

GOLDEN = Path(__file__).parent / "golden"
UTC = timezone.utc
START, END = datetime(2023, 3, 5, 22, tzinfo=UTC), datetime(2023, 3, 6, 22, tzinfo=UTC)
TOPICS = [("forced-labor", "Wartime forced-labor rulings & compensation"), ("gsomia", "GSOMIA <intelligence> pact"),
          ("japan-korea-relations", "Japan–South Korea relations")]


def row(topic, story, title, feed, url, hours, *, first=None, score=1.0, summary="", outlets=1):
    published = START + timedelta(hours=hours)
    # `story` numbers the development on its topic; the same title from the same feed is one entry, so a
    # development repeated under another topic is recognised by its entries ("also on").
    return SimpleNamespace(topic=topic, score=score, entry_id=hash((title, feed)) % 10_000, title=title,
                           summary=summary, url=url, published_at=published, story_id=story, development_id=story,
                           feed=feed, story_first_seen=first or published, story_last_seen=published,
                           story_outlets=outlets, story_entries=1)


def sample_digest():
    plan = "South Korea announces plan to compensate <b>forced labor</b> victims & asks Japan's firms to join"
    rows = [
        row("forced-labor", 7, plan, "Outlet A", "https://a.example/plan?x=1&y=2", 3, score=2.5, outlets=4,
            summary="<p>Seoul will pay victims through a public foundation.</p><script>alert('x')</script> " * 4),
        row("forced-labor", 7, "Japan welcomes Seoul's plan <img src=x onerror=alert(1)>", "Outlet <B>",
            "https://b.example/welcome", 5, score=2.0, outlets=4),
        row("forced-labor", 7, "Victims reject the plan", "Outlet C", "javascript:alert(1)", 9, outlets=4),
        row("forced-labor", 3, "Nippon Steel refuses to pay plaintiffs", "Outlet A", "https://a.example/steel", 11,
            first=START - timedelta(days=2), score=1.5, outlets=2),
        row("forced-labor", 9, "Court hearing on asset seizure scheduled", "Outlet D", "https://d.example/court", 12,
            score=1.2),
        row("japan-korea-relations", 7, plan, "Outlet A", "https://a.example/plan?x=1&y=2", 3, score=1.1, outlets=4),
    ]
    firsts = {("forced-labor", 7): START + timedelta(hours=3), ("forced-labor", 3): START - timedelta(days=2),
              ("forced-labor", 9): START + timedelta(hours=12), ("japan-korea-relations", 7): START + timedelta(hours=3)}
    return build_digest(topics=TOPICS, rows=rows, firsts=firsts, start=START, end=END, tz="Asia/Seoul",
                        period="2023-03-07", generated_at=END, public_url="http://127.0.0.1:8080/")


EXT = {"text": "txt", "markdown": "md", "html": "html", "json": "json"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(fmt):
    got = render(sample_digest(), fmt)
    path = GOLDEN / f"digest.{EXT[fmt]}"
    if os.environ.get("FOLLOWUP_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path.name} changed; see the module docstring to regenerate"


def test_counts_order_and_quiet_topics():
    d = sample_digest()
    fl, gs, rel = d.sections
    assert (d.new_count, d.continuing_count) == (2, 1)
    assert [i.story_id for i in fl.new] == [7, 9] and [i.story_id for i in fl.continuing] == [3]
    assert fl.new[0].outlets == ["Outlet A", "Outlet <B>", "Outlet C"]  # most outlets first
    # One event once per digest: story 7 is shown under forced-labor only, "also on" the other topic.
    assert fl.new[0].also_on == ["japan-korea-relations"] and rel.quiet and rel.shown_above == [fl.new[0].headline]
    assert gs.quiet and not gs.shown_above
    assert d.subject == "Followup digest 2023-03-07: 2 new developments, 1 continuing"
    assert fl.new[0].first_seen_local == "Mon 6 Mar 2023, 10:00 KST"


def mirrored(titles: list[str], earlier: list[int], later: list[int]):
    """A digest of two reports, one per outlet, in forced-labor's developments `earlier` and the same reports
    in japan-korea-relations' developments `later`."""
    rows = [row(topic, developments[n], title, f"Outlet {'AB'[n]}", f"https://{'ab'[n]}.example/{n + 1}", 3 + 2 * n)
            for topic, developments in (("forced-labor", earlier), ("japan-korea-relations", later))
            for n, title in enumerate(titles)]
    return build_digest(topics=TOPICS, rows=rows, firsts={}, start=START, end=END, tz="UTC", period="2023-03-07",
                        generated_at=END, public_url="")


def test_two_developments_shown_above_as_one_item_count_once():
    """A later topic may split what an earlier topic's development holds (each groups its own matches): its
    two developments are one item above, and "Nothing else new" counts and lists that item once."""
    d = mirrored(["Seoul announces compensation plan", "Japan welcomes Seoul's compensation plan"], [7, 7], [11, 12])
    fl, _, rel = d.sections
    assert len(fl.new) == 1 and fl.new[0].also_on == ["japan-korea-relations"]
    assert rel.shown_above == [fl.new[0].headline]
    assert "Nothing else new: 1 development of this topic is shown above." in render(d, "text")
    # Two items above that only share a headline ("Live updates") are two.
    d = mirrored(["Live updates", "Live updates"], [7, 8], [11, 12])
    assert len(d.sections[0].new) == 2 and d.sections[2].shown_above == ["Live updates", "Live updates"]


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.hrefs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]
        assert not any(k.startswith("on") for k, _ in attrs), attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_feed_text_and_has_no_scripts_or_external_assets():
    html = render(sample_digest(), "html")
    parsed = _Collect()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
    assert "link" not in parsed.tags and "<style" not in html  # inline CSS only
    assert "&lt;b&gt;forced labor&lt;/b&gt;" in html and "Outlet &lt;B&gt;" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "javascript:" not in html  # a feed's javascript: link is never linked
    assert "https://a.example/plan?x=1&amp;y=2" in html
    assert all(h.startswith("http://127.0.0.1:8080") or h.startswith("https://") for h in parsed.hrefs)
    assert "GSOMIA &lt;intelligence&gt; pact" in "".join(html)


def test_markdown_escapes_markup():
    md = render(sample_digest(), "markdown")
    assert not re.search(r"(?<!\\)<", md)  # every "<" from a feed is backslash-escaped: no raw HTML
    assert r"\<b\>forced labor\</b\>" in md and r"\<script\>alert\('x'\)\</script\>" in md
    assert "(#)" in md or "Outlet C" in md and "javascript:" not in md
    assert md_escape("*the plan* [ignores] <b>") == r"\*the plan\* \[ignores\] \<b\>"


def test_json_is_the_same_object():
    data = json.loads(render(sample_digest(), "json"))
    assert data["subject"].startswith("Followup digest 2023-03-07")
    links = {link["outlet"]: link["url"] for link in data["sections"][0]["new"][0]["links"]}
    assert "Outlet C" in links and links["Outlet C"] is None  # javascript: dropped
    assert data["window_start"] == "2023-03-05T22:00:00+00:00"


def test_one_line_summary():
    assert one_line("a  b\n c") == "a b c"
    long = "word " * 100
    assert len(one_line(long)) <= 221 and one_line(long).endswith("…")


def test_text_is_a_valid_email_body():
    text = render(sample_digest(), "text")
    assert message_from_string("Subject: x\n\n" + text).get_payload().startswith("Followup digest")
    assert "Nothing new on this topic." in text


# The reports of 1 June 2023, 12:00 UTC to 2 June, 12:00 that `followup ingest` of May–June 2023 placed in
# one continuing development of a topic on the US debt ceiling ("debt ceiling" OR "debt limit"): an op-ed,
# senators' reactions, then the Senate passing the bill overnight.
SENATE_PASSES = [361006, 361038, 361368, 361373, 362033, 362090, 362420, 362723, 362726, 362828, 363090, 364968,
                 364974, 365165, 365241, 365596, 365599]


def test_a_continuing_development_is_headed_by_what_its_new_reports_say():
    """The day's digest showed the Senate passing the debt-ceiling bill as "continuing coverage" headed by
    an op-ed ("The debt ceiling fight was never about debt…", the first report of the window's busiest
    day) with the op-ed's link first. The head is now the report that says what most of them say, and
    its link comes first."""
    from ..conftest import shared_data

    shared_data()
    from bench.corpus import items

    wanted = set(SENATE_PASSES)
    found = sorted((i for i in items(months={6}) if i["id"] in wanted), key=lambda i: i["date_published"])
    assert len(found) == len(wanted)
    start = datetime(2023, 6, 1, 12, tzinfo=UTC)
    rows = [SimpleNamespace(topic="debt-ceiling", score=1.0, entry_id=i["id"], title=i["title"],
                            summary=i.get("description") or "", url=i["link"],
                            published_at=datetime.fromisoformat(i["date_published"]), story_id=1, development_id=1,
                            feed=i.get("source_title") or i["source"], story_first_seen=start - timedelta(days=5),
                            story_last_seen=start, story_outlets=1, story_entries=1) for i in found]
    d = build_digest(topics=[("debt-ceiling", "US debt ceiling")], rows=rows,
                     firsts={("debt-ceiling", 1): start - timedelta(days=5)}, start=start,
                     end=start + timedelta(days=1), tz="UTC", period="2023-06-02", generated_at=start)
    (item,) = d.sections[0].continuing
    assert re.search(r"\bsenate\b", item.headline, re.I) and re.search(r"\bpass", item.headline, re.I), item.headline
    assert item.links[0].title == item.headline
    assert "Weisbrot" not in item.headline
