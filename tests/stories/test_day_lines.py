"""A development that runs over several days names each day's report that says what most of that day's
say: where one development holds an event's successive acts (a flood topic's open failure), the reader of
the timeline, the topic page, the API and the Atom feed still sees each act. Real data: the US debt-ceiling
deal of May–June 2023 and its hand-written development list (bench/developments/debt-ceiling-2023-05-06.toml)."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from datetime import datetime
from types import SimpleNamespace

from service.stories.develop import day_lines, headline_of

from ..conftest import REPO, shared_data

WRITTEN = REPO / "bench" / "developments" / "debt-ceiling-2023-05-06.toml"
ACTS = {"deal": "reach a deal in principle", "house": "The House passes", "senate": "The Senate passes"}


def written() -> tuple[dict[int, str], dict[str, set[int]]]:
    spec = tomllib.loads(WRITTEN.read_text(encoding="utf-8"))
    event_of = {i: d["name"] for d in spec["development"] for i in d["items"]}
    acts = {act: next(set(d["items"]) for d in spec["development"] if words in d["name"]) for act, words in ACTS.items()}
    return event_of, acts


def corpus(ids: set[int] | None = None) -> list[dict]:
    from bench.corpus import items

    rows = [i for i in items(months={5, 6}) if "2023-05-26" <= i["date_published"][:10] <= "2023-06-03"
            and (ids is None and re.search(r"debt (ceiling|limit)", f"{i.get('title')} {i.get('description')}", re.I)
                 or ids is not None and i["id"] in ids)]
    return sorted(rows, key=lambda i: i["date_published"])


def test_each_day_of_a_development_that_holds_several_acts_is_named_by_its_own_act():
    """The deal, the House vote and the Senate vote as one development (what the grouping made of them):
    its headline names one act, and each day's line names the act most of that day's reports are about."""
    shared_data()
    event_of, acts = written()
    rows = corpus(set().union(*acts.values()))
    members = [SimpleNamespace(entry_id=i["id"], title=i["title"], url=i["link"],
                               published_at=datetime.fromisoformat(i["date_published"])) for i in rows]
    lines = day_lines(members)
    # Every day with two reports or more has its line, the day the headline comes from included.
    per_day = Counter(m.published_at.date() for m in members)
    assert [line.day for line in lines] == sorted(d for d, n in per_day.items() if n >= 2)
    assert [line.entries for line in lines] == [per_day[line.day] for line in lines]
    named = {event_of[headline_of(members).entry_id]} | {event_of[line.head.entry_id] for line in lines}
    assert {event_of[next(iter(ids))] for ids in acts.values()} <= named
    # The day each act's reports peak (28 May UTC the deal, 1 June the House vote, 2 June the Senate vote)
    # is named by that act. (On 31 May, between them, the House vote's previews are 8 of the day's reports
    # and commentary on the deal 5; its line, a commentary on the deal, is the price of the pivoted cosine
    # that heads more days by a report of what happened: docs/stories.md.)
    peaks = {}
    for ids in acts.values():
        days = Counter(m.published_at.date() for m in members if m.entry_id in ids)
        peaks[max(days, key=days.get)] = event_of[next(iter(ids))]
    by_day = {line.day: line for line in lines}
    head = headline_of(members)
    for day, act in peaks.items():
        shown = by_day[day].head if day in by_day else head
        assert head.published_at.date() == day or day in by_day, day
        assert event_of[shown.entry_id] == act, (day, shown.title)
    assert day_lines(members[:1]) == [] and day_lines([m for m in members if m.published_at.day == 1]) == []
    # One busy day and a straggler past midnight: no line that would only repeat the headline.
    busy = [m for m in members if m.published_at.date() == lines[0].day][:3]
    later = [m for m in members if m.published_at.date() > lines[0].day][:1]
    assert day_lines(busy + later) == []


def test_the_timeline_names_the_deal_the_house_vote_and_the_senate_vote(cli, tmp_path):
    """Every report of 26 May–3 June 2023 naming the debt ceiling, ingested per source, and a topic on it:
    whatever the grouping makes of the week, the deal, the House vote and the Senate vote are each named by
    a development's headline or one of its day lines (the API's `days`), and the Atom feed says them."""
    shared_data()
    from bench.corpus import write_feeds

    event_of, acts = written()
    rows = corpus()
    event_of_url = {i["link"]: event_of.get(i["id"]) for i in rows}
    db = f"sqlite:///{tmp_path / 'debt.db'}"
    paths = write_feeds(iter(rows), tmp_path / "feeds")
    assert cli("ingest", *map(str, paths), "--db", db).exit_code == 0
    added = cli("topics", "add", "debt-ceiling", "--name", "US debt ceiling", "--query", '"debt ceiling" OR "debt limit"',
                "--db", db)
    assert added.exit_code == 0, added.stderr
    shown = cli("stories", "--topic", "debt-ceiling", "--since", "2023-05-26", "--until", "2023-06-04", "--limit", "300",
                "--format", "json", "--db", db)
    assert shown.exit_code == 0, shown.stderr
    developments = json.loads(shown.stdout)
    named = {event_of_url.get(d["headline_url"]) for d in developments} | \
        {event_of_url.get(line["url"]) for d in developments for line in d["days"]}
    for act, ids in acts.items():
        assert event_of[next(iter(ids))] in named, act
    assert any(d["days"] for d in developments)
    timeline = cli("timeline", "debt-ceiling", "--since", "2023-05-26", "--until", "2023-06-04", "--limit", "300",
                   "--db", db)
    assert timeline.exit_code == 0 and re.search(r"^\s+0[56]-\d\d: .+ \(\d+\)$", timeline.stdout, re.M)
    # Asked up to 31 May, no day line of a later day is listed, though the development goes on after it.
    until = json.loads(cli("stories", "--topic", "debt-ceiling", "--since", "2023-05-26", "--until", "2023-05-31",
                           "--limit", "300", "--format", "json", "--db", db).stdout)
    assert any(d["last_seen"] >= "2023-05-31" and d["days"] for d in until)
    assert all(line["day"] < "2023-05-31" for d in until for line in d["days"])
    assert {line["day"] for d in until for line in d["days"]} == \
        {line["day"] for d in developments for line in d["days"] if line["day"] < "2023-05-31"}
    # The topic page and the Atom feed show the same day lines.
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.db import Database
    from service.web.app import create_app

    database = Database(db)
    try:
        with TestClient(create_app(Settings(database_url=db, allowed_hosts="testserver"), database)) as client:
            page = client.get("/topics/debt-ceiling").text
            atom = client.get("/topics/debt-ceiling.atom").text
    finally:
        database.dispose()
    assert 'class="days"' in page and "Day by day:" in atom
    import feedparser
    from markupsafe import escape

    shown = [d for d in developments if f'data-development="{d["id"]}"' in page]
    assert any(d["days"] for d in shown)
    for d in shown:  # every day line of every development the page shows, as Jinja escapes it
        assert all(str(escape(line["headline"])) in page for line in d["days"]), d["headline"]
    from html import unescape

    entries = {e.id.rsplit(":", 1)[1]: unescape(e.content[0].value) for e in feedparser.parse(atom).entries}
    in_atom = [d for d in developments if str(d["id"]) in entries]
    assert any(d["days"] for d in in_atom)
    for d in in_atom:  # the entry's HTML content lists every day line
        assert all(line["headline"] in entries[str(d["id"])] for line in d["days"]), d["headline"]


def test_the_headline_is_chosen_in_each_reports_language():
    """Japanese headlines are segmented (MeCab) and Polish function words left out before the reports are
    compared: read as English, Japanese headlines shared no word and Polish ones shared "się" and "dla"."""
    from service.stories.develop import representative_index

    times = [datetime(2023, 3, 16, h) for h in (1, 2, 3)]
    japanese = ["岸田首相、尹大統領と会談へ", "日韓首脳会談、シャトル外交の再開で合意", "日韓首脳が会談 シャトル外交再開で合意"]
    assert representative_index(japanese, times, ["ja"] * 3) in (1, 2)
    polish = ["Credit Suisse się chwieje, a klienci wycofują pieniądze",
              "UBS przejmie Credit Suisse za 3 mld franków",
              "UBS przejmuje Credit Suisse. Transakcja warta 3 mld franków"]
    assert representative_index(polish, times, ["pl"] * 3) in (1, 2)


def test_a_day_is_headed_by_a_report_of_what_happened_not_by_the_words_every_report_shares():
    """Every headline of 4 February 2023 (UTC) naming the balloon, and of 6 February naming the earthquake:
    with the plain cosine the shortest headline made only of the words every report shares won ("Here's how
    spy balloons work", the day the US shot it down; "Turkey and Syria earthquake: what we know so far", the
    day of the earthquake). The pivoted cosine heads them with a report of the act."""
    shared_data()
    from bench.corpus import items

    days = {"2023-02-04": r"balloon", "2023-02-06": r"earthquake|quake"}
    rows = [i for i in items(months={2}) if i["date_published"][:10] in days
            and re.search(days[i["date_published"][:10]], i.get("title") or "", re.I)]
    for day, act in (("2023-02-04", r"shoot|shot"), ("2023-02-06", r"magnitude|killed|dead|kills")):
        members = [SimpleNamespace(entry_id=i["id"], title=i["title"], published_at=datetime.fromisoformat(i["date_published"]))
                   for i in rows if i["date_published"].startswith(day)]
        assert len(members) > 40
        assert re.search(act, headline_of(members).title, re.I), (day, headline_of(members).title)
