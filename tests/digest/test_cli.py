"""followup subscriptions … and followup digest, through the CLI."""

from __future__ import annotations

import json

from .conftest import write_feeds


def setup(cli, db_url, tmp_path):
    dbarg = ["--db", db_url]
    assert cli("seed", *dbarg).exit_code == 0
    assert cli("ingest", *map(str, write_feeds(tmp_path)), *dbarg).exit_code == 0
    return dbarg


def test_subscriptions_add_list_pause_remove(cli, db_url, tmp_path):
    dbarg = setup(cli, db_url, tmp_path)
    added = cli("subscriptions", "add", "--email", "me@example.org", "--at", "7:00", "--tz", "Asia/Seoul",
                "--topics", "gsomia,forced-labor", *dbarg)
    assert added.exit_code == 0, added.stderr
    assert "Subscription 1: email to me@example.org, topics gsomia, forced-labor, daily at 07:00 Asia/Seoul" in added.stdout
    assert "+09:00" in added.stdout  # the next send, in the subscriber's zone
    assert cli("subscriptions", "add", "--dir", "out", *dbarg).exit_code == 0
    listed = json.loads(cli("subscriptions", "list", "--format", "json", *dbarg).stdout)
    assert [(s["id"], s["channel"], s["topics"]) for s in listed] == [(1, "email", ["gsomia", "forced-labor"]),
                                                                     (2, "dir", "all")]
    assert listed[0]["next_send"].endswith("T07:00:00+09:00") and listed[0]["last_status"] is None
    assert "paused" not in cli("subscriptions", "list", *dbarg).stdout
    assert cli("subscriptions", "pause", "1", *dbarg).exit_code == 0
    assert json.loads(cli("subscriptions", "list", "--format", "json", *dbarg).stdout)[0]["paused"] is True
    assert "paused" in cli("subscriptions", "list", *dbarg).stdout
    assert cli("subscriptions", "resume", "1", *dbarg).exit_code == 0
    assert "Removed subscription 2" in cli("subscriptions", "remove", "2", *dbarg).stdout
    gone = cli("subscriptions", "remove", "2", *dbarg)
    assert gone.exit_code == 1 and "No subscription 2" in gone.stderr


def test_bad_subscriptions_get_one_sentence(cli, db_url, tmp_path):
    dbarg = setup(cli, db_url, tmp_path)
    cases = [
        (["--email", "a@b.co", "--dir", "x"], "exactly one of --email, --webhook, --dir or --apprise"),
        (["--email", "not-an-address"], "is not an email address"),
        (["--webhook", "ftp://x"], "is not an http:// or https:// URL"),
        (["--dir", "x", "--tz", "Mars/Base"], "is not a time zone name"),
        (["--dir", "x", "--at", "25:00"], "is not a time of day"),
        (["--dir", "x", "--topics", "gsomia,nope"], "No topic 'nope'"),
        (["--dir", "x", "--format", "pdf"], "pdf"),
    ]
    for args, message in cases:
        result = cli("subscriptions", "add", *args, *dbarg)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert json.loads(cli("subscriptions", "list", "--format", "json", *dbarg).stdout) == []


def test_digest_prints_without_sending_and_send_records_once(cli, db_url, tmp_path):
    dbarg = setup(cli, db_url, tmp_path)
    window = ["--since", "2023-03-05T22:00:00Z", "--until", "2023-03-06T22:00:00Z"]
    text = cli("digest", "--topics", "forced-labor", *window, "--tz", "Asia/Seoul", *dbarg)
    assert text.exit_code == 0, text.stderr
    assert "South Korea announces plan to compensate Japan forced labor victims" in text.stdout
    for fmt, marker in (("markdown", "# Followup digest"), ("html", "<!DOCTYPE html>"), ("json", '"sections"')):
        assert marker in cli("digest", *window, "--format", fmt, *dbarg).stdout
    out = tmp_path / "data" / "out"  # a relative folder is inside FOLLOWUP_DATA_DIR (default ./data)
    cli("subscriptions", "add", "--dir", "out", "--topics", "forced-labor", *dbarg)
    assert json.loads(cli("subscriptions", "list", "--format", "json", *dbarg).stdout)[0]["last_status"] is None
    sent = cli("digest", "--subscription", "1", "--send", *dbarg)
    assert sent.exit_code == 0 and "Sent subscription 1's digest" in sent.stdout, sent.stderr
    assert len(list(out.glob("*.html"))) == 1
    again = cli("digest", "--subscription", "1", "--send", *dbarg)
    assert again.exit_code == 0 and "already sent" in again.stdout and len(list(out.iterdir())) == 4
    status = json.loads(cli("subscriptions", "list", "--format", "json", *dbarg).stdout)[0]
    assert status["last_status"] == "sent" and status["last_sent_at"]
    bad = cli("digest", "--send", *dbarg)
    assert bad.exit_code == 1 and "--send needs --subscription" in bad.stderr
    empty = cli("digest", "--since", "2023-03-06", "--until", "2023-03-05", *dbarg)
    assert empty.exit_code == 1 and "window is empty" in empty.stderr
