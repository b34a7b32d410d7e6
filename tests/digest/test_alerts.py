"""Instant alerts through Apprise, end to end: real feeds polled from a loopback server by the service's
own poll cycle, and Apprise's json:// notifier posting to a loopback receiver (a real HTTP server)."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.alerts import AlertService, check_alert_url
from service.config import Settings
from service.errors import InvalidInputError
from service.models import utcnow
from service.scheduler import Service
from service.store import alerts as alert_store
from service.store import feeds as feed_store
from service.store import topics as topic_store
from tests.feedserver import FeedServer

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{feed}</title>{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><description>{summary}</description><pubDate>{date}</pubDate></item>"


class Receiver:
    """A loopback HTTP server that keeps what Apprise's json:// posts (or answers 500 when told to)."""

    def __init__(self):
        self.received: list[dict] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def seed_topics(db, tmp_path):
    """The seed topics without the seed feeds (those are real outlets on the internet)."""
    import shutil

    from service.seeds import load_seeds

    
    folder = tmp_path / "seeds"
    folder.mkdir()
    shutil.copy(Settings().seeds_dir / "topics.toml", folder / "topics.toml")
    (folder / "feeds.opml").write_text('<opml version="2.0"><head/><body/></opml>', encoding="utf-8")
    load_seeds(db, folder)


def write_feed(path, feed, items):
    now = utcnow()
    body = "".join(ITEM.format(title=t, link=link, summary=s, date=format_datetime(now - timedelta(hours=h)))
                   for t, link, s, h in items)
    path.write_text(RSS.format(feed=feed, items=body), encoding="utf-8")


def test_a_new_development_is_pushed_within_one_poll_cycle_and_never_twice(db, settings, tmp_path, receiver):
    seed_topics(db, tmp_path)
    yonhap, guardian = tmp_path / "yonhap.xml", tmp_path / "guardian.xml"
    write_feed(yonhap, "Yonhap", [("Seoul says it will keep the GSOMIA intelligence pact with Tokyo",
                                   "https://yna.example/1", "The military intelligence-sharing pact stays.", 2)])
    write_feed(guardian, "Guardian", [("Unrelated: stocks rally", "https://g.example/0", "Markets.", 3)])
    server = FeedServer({"yonhap.xml": yonhap, "guardian.xml": guardian}).start()
    try:
        with db.write() as conn:
            for name in ("yonhap.xml", "guardian.xml"):
                feed_store.add_feed(conn, server.url(f"/feed/{name}"))
            gsomia = topic_store.get_topic(conn, "gsomia")
            alert_store.add_alert(conn, url=receiver.url, topic_id=gsomia.id, trigger="new", min_outlets=None, now=utcnow())
            alert_store.add_alert(conn, url=receiver.url, topic_id=None, trigger="outlets", min_outlets=2, now=utcnow())
        service = Service(db, settings, report=lambda line: None)
        asyncio.run(service.tick())  # one poll cycle: the feeds are read and the alert goes out
        assert len(receiver.received) == 1
        first = receiver.received[0]
        assert first["title"].startswith("New on ") and "GSOMIA" in first["title"]
        assert "1 outlet" in first["message"] and "https://yna.example/1" in first["message"]

        asyncio.run(service.tick())  # nothing new: nothing pushed again
        assert len(receiver.received) == 1

        # A second outlet reports the same event: the 2-outlet alert fires, once; "new" does not repeat.
        write_feed(guardian, "Guardian", [("South Korea keeps GSOMIA intelligence-sharing pact with Japan",
                                           "https://g.example/1", "Seoul will stay in the pact.", 1)])
        with db.write() as conn:
            for f in feed_store.list_feeds(conn):
                feed_store.enable_feed(conn, f.id)  # due now
        asyncio.run(service.tick())
        titles = [r["title"] for r in receiver.received]
        assert len(titles) == 2 and titles[1].startswith("2 outlets on "), titles
        asyncio.run(service.tick())
        assert len(receiver.received) == 2

        # Editing the topic re-matches its backlog: old matches keep their first time, nothing is "new".
        from service.feeds.refresh import match_backlog

        match_backlog(db, "gsomia", replace=True)
        asyncio.run(service.tick())
        assert len(receiver.received) == 2

        # Paused, a new development arrives; resumed, it is not pushed (it was matched while paused).
        with db.write() as conn:
            alerts = alert_store.list_alerts(conn)
            for a in alerts:
                alert_store.set_paused(conn, a.id, True)
        write_feed(yonhap, "Yonhap", [("Seoul and Tokyo sign a new GSOMIA protocol on missile data",
                                       "https://yna.example/2", "The intelligence-sharing pact grows.", 1)])
        with db.write() as conn:
            for f in feed_store.list_feeds(conn):
                feed_store.enable_feed(conn, f.id)
        asyncio.run(service.tick())
        with db.write() as conn:
            for a in alerts:
                alert_store.set_paused(conn, a.id, False)
        asyncio.run(service.tick())
        assert len(receiver.received) == 2
    finally:
        server.stop()


def test_a_failing_target_is_tried_again_and_then_sends_once(db, settings, tmp_path, receiver):
    seed_topics(db, tmp_path)
    feed = tmp_path / "kh.xml"
    write_feed(feed, "Korea Herald", [("Japan and South Korea hold talks on wartime forced labor compensation",
                                       "https://kh.example/1", "Victims of forced labour.", 1)])
    from service.feeds.refresh import Pipeline

    with db.write() as conn:
        alert_store.add_alert(conn, url=receiver.url, topic_id=None, trigger="new", min_outlets=None,
                              now=utcnow() - timedelta(minutes=1))
    Pipeline(db, settings).ingest_file(feed)
    receiver.fail = True
    failed = AlertService(db, settings).tick()
    assert failed and not failed[0].ok and "failed" in failed[0].detail
    with db.read() as conn:
        (alert,) = alert_store.list_alerts(conn)
    assert alert.last_error and alert.last_sent_at is None
    receiver.fail = False
    sent = AlertService(db, settings).tick()
    assert [p.ok for p in sent] and all(p.ok for p in sent)
    assert len(receiver.received) == len(sent) >= 1
    assert AlertService(db, settings).tick() == []


class Inbox:
    """A real SMTP server (aiosmtpd) on loopback that refuses the addresses in `refused` and keeps, per
    message, the addresses it took."""

    def __init__(self, refused: set[str]):
        import socket

        from aiosmtpd.controller import Controller

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.refused = refused
        self.received: list[list[str]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address in self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.received.append(list(envelope.rcpt_tos))
        return "250 OK"

    def url(self, *to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure&from=alerts@example.com&to={','.join(to)}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):  # noqa: ANN002
        self.controller.stop()


def alert_on_one_report(db, tmp_path, url: str, settings) -> None:  # noqa: ANN001
    from service.feeds.refresh import Pipeline

    seed_topics(db, tmp_path)
    with db.write() as conn:
        alert_store.add_alert(conn, url=url, topic_id=None, trigger="new", min_outlets=None,
                              now=utcnow() - timedelta(minutes=1))
    feed = tmp_path / "kh.xml"
    write_feed(feed, "Korea Herald", [("Japan and South Korea hold talks on wartime forced labor compensation",
                                       "https://kh.example/1", "Victims of forced labour.", 1)])
    Pipeline(db, settings).ingest_file(feed)


def test_an_alert_to_two_addresses_one_refused_is_not_sent_again_to_the_other(db, settings, tmp_path):
    """One Apprise URL, two targets (an email to two addresses), and the mail server (a real aiosmtpd
    server on loopback) refuses one. Apprise gives one result per URL, so the previous release counted the
    push as failed and sent it again on every cycle: the reader whose address works got the same alert
    each time. Each target is now sent alone: the working one gets it once, the alert shows which failed."""
    with Inbox({"gone@example.com"}) as inbox:
        alert_on_one_report(db, tmp_path, inbox.url("reader@example.com", "gone@example.com"), settings)
        pushed = AlertService(db, settings).tick()
        assert pushed and not any(p.ok for p in pushed) and "reached 1 of its 2 targets" in pushed[0].detail
        assert AlertService(db, settings).tick() == []  # not sent again
        assert AlertService(db, settings).tick() == []
        assert inbox.received == [["reader@example.com"]] * len(pushed)
        with db.read() as conn:
            (alert,) = alert_store.list_alerts(conn)
        assert alert.last_sent_at is not None and "reached 1 of its 2 targets" in alert.last_error


def test_a_target_that_failed_gets_the_development_later_and_alone(db, settings, tmp_path):
    """The address refused at first is tried again, alone, once its backoff is due: it gets the alert
    when its mailbox comes back, and the address that had it does not get it twice. The previous release
    never sent it to the refused address again."""
    with Inbox({"late@example.com"}) as inbox:
        alert_on_one_report(db, tmp_path, inbox.url("reader@example.com", "late@example.com"), settings)
        start = utcnow()
        service = AlertService(db, settings)
        (first,) = service.tick(start)
        assert not first.ok and "reached 1 of its 2 targets" in first.detail
        assert first.then == "The targets that failed are tried again in 5 minutes."  # what `run` prints
        assert service.tick(start + timedelta(minutes=1)) == []  # not due yet
        still = service.tick(start + timedelta(minutes=6))  # due, and still refused: backs off
        assert len(still) == 1 and not still[0].ok and still[0].then == "Will try those targets again in 10 minutes."
        assert service.tick(start + timedelta(minutes=7)) == []
        inbox.refused.clear()  # the mailbox is back
        (retried,) = service.tick(start + timedelta(minutes=20))
        assert retried.ok and retried.development_id == first.development_id
        assert inbox.received == [["reader@example.com"], ["late@example.com"]]
        assert service.tick(start + timedelta(hours=6)) == []


def test_a_target_that_keeps_failing_is_given_up_after_its_retries(db, settings, tmp_path):
    from service.alerts import RETRIES, RETRY_FIRST

    with Inbox({"gone@example.com"}) as inbox:
        alert_on_one_report(db, tmp_path, inbox.url("reader@example.com", "gone@example.com"), settings)
        service = AlertService(db, settings)
        at = utcnow()
        assert len(service.tick(at)) == 1
        tries = 0
        for n in range(RETRIES + 2):
            at += RETRY_FIRST * 2 ** n + timedelta(seconds=1)
            pushed = service.tick(at)
            tries += len(pushed)
            assert not any(p.ok for p in pushed)
        assert tries == RETRIES
        with db.read() as conn:
            (alert,) = alert_store.list_alerts(conn)
        assert f"Gave up on 1 of its targets after {RETRIES} tries" in alert.last_error
        assert inbox.received == [["reader@example.com"]]
        assert service.tick(at + timedelta(days=1)) == []


def test_alert_urls_are_checked(settings):
    closed = Settings(database_url=settings.database_url, allow_private_hosts=False)
    with pytest.raises(InvalidInputError, match="not a notification URL"):
        check_alert_url("nonsense://x", closed)
    with pytest.raises(InvalidInputError, match="Refused"):
        check_alert_url("json://127.0.0.1:9/hook", closed)  # this machine's own network
    with pytest.raises(InvalidInputError, match="empty"):
        check_alert_url("  ", closed)
    for inside in ("mailto://u:p@example.com?smtp=127.0.0.1", "hassio://127.0.0.1/t", "rsyslog://127.0.0.1",
                   "kodi://10.0.0.1", "bark://192.168.1.2/x", "json://localhost/x", "json://[::1]:8000/x"):
        with pytest.raises(InvalidInputError, match="Refused"):  # any scheme, and an email's SMTP server
            check_alert_url(inside, closed)
    assert check_alert_url("ntfy://followup-gsomia", closed) == "ntfy://followup-gsomia"  # ntfy.sh
    assert check_alert_url("tgram://123456789:ABCdef/12", closed)  # a bot id, not an address


def test_a_digest_through_apprise_then_skipped_when_empty_and_kept_in_the_archive(digest_db, receiver):
    """The digest pushed through Apprise's json:// to a loopback receiver; the next day has nothing new
    and the subscription skips empty digests: nothing is sent, the run says so; the sent one is archived."""
    from datetime import datetime, timezone

    from service.digest.runner import DigestService
    from service.store import digests as store

    from .test_delivery import WINDOW, subscribe

    db, settings = digest_db
    sub_id = subscribe(db, "apprise", receiver.url, last_window_end=WINDOW[0])
    with db.write() as conn:
        conn.execute(store.subscriptions.update().where(store.subscriptions.c.id == sub_id).values(skip_empty=True))
    svc = DigestService(db, settings, owner="s")
    now = datetime(2023, 3, 6, 22, 0, 5, tzinfo=timezone.utc)
    (first,) = svc.tick(now)
    assert first.status == "sent" and len(receiver.received) == 1
    pushed = receiver.received[0]
    assert pushed["title"].startswith("Followup digest") and "plan to compensate Japan forced labor" in pushed["message"]
    (second,) = svc.tick(now + timedelta(days=1))  # 7 March: nothing new in the window
    assert second.status == "skipped" and len(receiver.received) == 1
    assert svc.tick(now + timedelta(days=1, minutes=5)) == []  # a skipped day is done, not retried
    with db.read() as conn:
        sub = store.get_subscription(conn, sub_id)
        assert sub.last_status == "skipped" and sub.last_sent_at == now
        (archived,) = store.archive(conn)
        assert archived.period == "2023-03-07" and archived.stories >= 1
        assert "plan to compensate Japan forced labor" in store.archived(conn, archived.id).body_html

    from fastapi.testclient import TestClient

    from service.web.app import create_app

    with TestClient(create_app(settings.model_copy(update={"allowed_hosts": "testserver"}), db)) as client:
        page = client.get("/digests/archive").text
        assert "2023-03-07" in page and f"/digests/archive/{archived.id}" in page
        assert "plan to compensate Japan forced labor" in client.get(f"/digests/archive/{archived.id}").text
        assert client.get("/digests/archive/999999").status_code == 404
        subs = client.get("/api/subscriptions").json()
        assert subs[0]["target"] == "json://…" and subs[0]["skip_empty"] is True  # the URL's tokens stay hidden


def test_a_retry_is_held_by_one_process_at_a_time_and_moves_with_a_merge(db, settings, tmp_path):
    """Two processes: the one whose lease ran out and was taken over does not overwrite what the other did;
    a development merged into another hands its retry over (the same event is not tried twice)."""
    with Inbox({"late@example.com"}) as inbox:
        alert_on_one_report(db, tmp_path, inbox.url("reader@example.com", "late@example.com"), settings)
        start = utcnow()
        (first,) = AlertService(db, settings).tick(start)
        due_at = start + timedelta(minutes=6)
        with db.read() as conn:
            (alert,) = alert_store.list_alerts(conn)
            (row,) = alert_store.retries_due(conn, alert.id, due_at)
        lease_a, lease_b = due_at + timedelta(minutes=10), due_at + timedelta(minutes=30)
        with db.write() as conn:
            assert alert_store.claim_retry(conn, row, alert.id, lease_a)
            assert not alert_store.claim_retry(conn, row, alert.id, lease_a)  # taken
        with db.read() as conn:
            (taken,) = alert_store.retries_due(conn, alert.id, lease_a)  # A's lease ran out: B takes it over
        with db.write() as conn:
            assert alert_store.claim_retry(conn, taken, alert.id, lease_b)
            assert alert_store.set_retry(conn, alert.id, first.development_id, None, retries=1, retry_at=None,
                                         leased=lease_b)  # B delivered
            assert not alert_store.set_retry(conn, alert.id, first.development_id, [1], retries=1,
                                             retry_at=lease_b, leased=lease_a)  # A's failure comes too late
        with db.write() as conn:
            assert alert_store.retries_due(conn, alert.id, start + timedelta(days=1)) == []
            alert_store.set_retry(conn, alert.id, first.development_id, [1], retries=0, retry_at=due_at)
            alert_store.carry_over(conn, [(first.development_id, first.development_id + 1000)])
            (moved,) = alert_store.retries_due(conn, alert.id, due_at)
        assert moved.development_id == first.development_id + 1000 and moved.retry_targets == "1"


def test_a_retry_that_raises_counts_as_a_try_and_an_old_one_is_given_up(db, settings, tmp_path, monkeypatch):
    """Whatever a retry raises (a notifier's bug, an OSError) counts as a failed try: it backs off and is given
    up, and the alert's new developments still go out. A retry older than two days (the alert was paused
    meanwhile) is given up, not sent weeks late."""
    import service.alerts as alerts

    with Inbox({"late@example.com"}) as inbox:
        alert_on_one_report(db, tmp_path, inbox.url("reader@example.com", "late@example.com"), settings)
        start = utcnow()
        service = AlertService(db, settings)
        service.tick(start)
        real = alerts.push

        def broken(url, title, body, settings, targets=None):  # noqa: ANN001, ANN202
            if targets is not None:
                raise OSError("notifier crashed")
            return real(url, title, body, settings, targets)

        monkeypatch.setattr(alerts, "push", broken)
        (crashed,) = service.tick(start + timedelta(minutes=6))
        assert not crashed.ok and "OSError: notifier crashed" in crashed.detail
        assert service.tick(start + timedelta(minutes=7)) == []  # backed off, not retried at once
        monkeypatch.setattr(alerts, "push", real)
        inbox.refused.clear()
        with db.read() as conn:
            (alert,) = alert_store.list_alerts(conn)
        with db.write() as conn:
            alert_store.set_paused(conn, alert.id, True)
        with db.write() as conn:
            alert_store.set_paused(conn, alert.id, False)
        assert service.tick(start + timedelta(days=3)) == []
        with db.read() as conn:
            (alert,) = alert_store.list_alerts(conn)
        assert "older than two days" in alert.last_error
        assert inbox.received == [["reader@example.com"]]


def test_a_push_that_raises_is_released_and_tried_next_cycle(db, settings, tmp_path, receiver, monkeypatch):
    """A notifier's own failure (not a refused delivery) during the first push: the development is not
    lost as "sent" — the claim is released, the alert shows the error, and the next cycle sends it once."""
    import service.alerts as alerts

    alert_on_one_report(db, tmp_path, receiver.url, settings)
    monkeypatch.setattr(alerts, "push", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("socket closed")))
    (failed,) = AlertService(db, settings).tick()
    assert not failed.ok and "OSError: socket closed" in failed.detail
    monkeypatch.undo()
    sent = AlertService(db, settings).tick()
    assert [p.ok for p in sent] == [True] and len(receiver.received) == 1
    assert AlertService(db, settings).tick() == []
