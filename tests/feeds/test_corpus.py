"""Every real file in ../shared/data goes through `ingest` without an unhandled error, and each
well-formed file stores as many entries as feedparser reports (minus repeats of one identity)."""

import json

import feedparser
import pytest

from service.config import Settings
from service.feeds.normalize import normalize_feed
from service.feeds.parse import parse_feed
from service.feeds.refresh import Pipeline, expand_paths
from service.models import utcnow


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["feedparser-tests/tests", "feeds"])
def test_every_file_ingests(sqlite_db, data_dir, corpus):
    pipeline = Pipeline(sqlite_db, Settings(database_url=str(sqlite_db.url)))
    files = expand_paths([data_dir / corpus])
    assert len(files) > (2000 if corpus.startswith("feedparser") else 300)
    outcomes = {}
    for path in files:
        outcomes[path] = pipeline.ingest_file(path)  # raises on any unhandled error
    assert all(o.status in ("ok", "error", "unchanged") for o in outcomes.values())
    # Refusals are sentences about the file, never an internal error (a Japanese RDF file was one: MeCab),
    # and a file is not "read with problems" for lacking the Content-Type header it cannot have.
    internal = [p.name for p, o in outcomes.items() if o.message and o.message.startswith("Internal error")]
    assert not internal, internal
    assert not [p.name for p, o in outcomes.items() if o.message and "no Content-type" in o.message]
    checked = 0
    for path, outcome in outcomes.items():
        body = path.read_bytes()
        if path.suffix == ".json":
            continue  # feedparser 6.0 does not read JSON Feed; see test_json_feeds below
        reference = feedparser.parse(body)
        if reference.bozo or outcome.status != "ok":
            continue
        assert outcome.entries == len(reference.entries), path
        stored = outcome.new + outcome.updated
        if stored != len(reference.entries):
            # fewer only where entries share one identity (repeats in the file, or seen in an earlier file)
            identities = {e.identity for e in normalize_feed(parse_feed(body), path.resolve().as_uri(), utcnow())}
            assert stored <= len(identities) <= len(reference.entries), path
        checked += 1
    assert checked > (1500 if corpus.startswith("feedparser") else 200)
    ok = sum(o.status == "ok" for o in outcomes.values())
    print(f"{corpus}: {len(files)} files, {ok} read, {len(files) - ok} refused with a reason")


def test_json_feeds(sqlite_db, data_dir):
    pipeline = Pipeline(sqlite_db, Settings(database_url=str(sqlite_db.url)))
    for path in sorted((data_dir / "feeds/feed-rs/feed-rs/fixture/jsonfeed").glob("*.json")):
        if path.name.endswith(".serde.json"):
            continue
        expected = len(json.loads(path.read_text())["items"])
        outcome = pipeline.ingest_file(path)
        assert outcome.status == "ok" and outcome.entries == expected, path
