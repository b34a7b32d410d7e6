"""Digests delivered through real channels: a real SMTP server in this process (aiosmtpd), a loopback
webhook receiver (500 then success; a timeout), and a folder."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from service.digest.deliver import post_webhook, write_files
from service.digest.runner import DigestService
from service.errors import DeliveryError
from service.store import digests as store

from .conftest import WINDOW

# 07:00 Seoul on 7 March 2023 (22:00 UTC on the 6th) has just passed.
NOW = datetime(2023, 3, 6, 22, 0, 30, tzinfo=timezone.utc)
CREATED = datetime(2023, 3, 1, tzinfo=timezone.utc)


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # a free loopback port (aiosmtpd's readiness check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def subscribe(db, channel, target, *, topics=None, at="07:00", tz="Asia/Seoul", last_window_end=WINDOW[0]):
    with db.write() as conn:
        sub = store.add_subscription(conn, channel=channel, target=target, topics_=topics, send_at=at, tz=tz,
                                     fmt="html", now=CREATED)
        conn.execute(store.subscriptions.update().where(store.subscriptions.c.id == sub.id)
                     .values(last_window_end=last_window_end))
    return sub.id


def test_email_through_a_real_smtp_server(digest_db, smtp):
    db, settings = digest_db
    settings = settings.model_copy(update=dict(smtp_host="127.0.0.1", smtp_port=smtp.port,
                                               smtp_from="Followup <digest@followup.test>"))
    sub_id = subscribe(db, "email", "analyst@example.org", topics=["forced-labor", "gsomia"])
    (outcome,) = DigestService(db, settings, owner="t").tick(NOW)
    assert outcome.status == "sent", outcome.detail
    (mail_from, rcpts, raw), = smtp.messages
    assert mail_from == "digest@followup.test" and rcpts == ["analyst@example.org"]
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    subject = msg["Subject"]
    assert subject.startswith("Followup digest 2023-03-07: ") and "new development" in subject and "continuing" in subject
    assert msg["Message-ID"] == f"<digest-{sub_id}-2023-03-07@followup>"
    body_text, body_html = text.get_content(), html.get_content()
    assert "South Korea announces plan to compensate Japan forced labor victims" in body_text
    assert "https://a.example/plan" in body_text and 'href="https://a.example/plan"' in body_html
    assert "Nothing new on this topic." in body_text  # gsomia
    # Feed HTML never arrives unescaped: the summary's <script>, the title's <img>, the outlet's <script>.
    for bad in ("<script", "<img", "onerror=", "javascript:"):
        assert bad not in body_html
    assert "Outlet B &lt;script&gt;" in body_html  # the outlet named "Outlet B <script>" (as text) is shown, escaped
    with db.read() as conn:
        sub = store.get_subscription(conn, sub_id)
        run = store.get_run(conn, sub_id, "2023-03-07")
    assert sub.last_status == "sent" and sub.last_window_end == NOW and run.status == "sent" and run.attempts == 1


def test_email_without_smtp_settings_fails_with_one_sentence_and_is_recorded(digest_db):
    db, settings = digest_db
    sub_id = subscribe(db, "email", "analyst@example.org")
    (outcome,) = DigestService(db, settings, owner="t").tick(NOW)
    assert outcome.status == "failed" and "FOLLOWUP_SMTP_HOST" in outcome.detail
    with db.read() as conn:
        assert "FOLLOWUP_SMTP_HOST" in store.get_subscription(conn, sub_id).last_error


def test_a_refused_connection_is_a_delivery_error(digest_db, smtp):
    db, settings = digest_db
    settings = settings.model_copy(update=dict(smtp_host="127.0.0.1", smtp_port=1, smtp_timeout_seconds=2))
    subscribe(db, "email", "analyst@example.org")
    (outcome,) = DigestService(db, settings, owner="t").tick(NOW)
    assert outcome.status == "failed" and "Could not send mail through 127.0.0.1:1" in outcome.detail


def test_webhook_retries_a_500_then_succeeds(digest_db, webhook):
    db, settings = digest_db
    webhook.script = [500]
    svc = DigestService(db, settings, owner="t")
    digest = svc.build(topics=None, start=WINDOW[0], end=WINDOW[1], tz="Asia/Seoul", now=NOW)
    delivered = post_webhook(settings, digest, webhook.url, backoff=0.05)
    assert [status for status, _ in webhook.requests] == [500, 200]
    assert "after 2 attempt(s)" in delivered.detail
    body = json.loads(webhook.requests[-1][1])
    assert body["text"].startswith("# Followup digest") and body["digest"]["period"] == digest.period
    assert body["subject"] == digest.subject


def test_webhook_timeout_and_4xx_are_delivery_errors(digest_db, webhook):
    db, settings = digest_db
    digest = DigestService(db, settings, owner="t").build(topics=None, start=WINDOW[0], end=WINDOW[1], now=NOW)
    webhook.delay = 1.5  # the settings allow 1 s
    with pytest.raises(DeliveryError, match="did not answer within 1 s"):
        post_webhook(settings, digest, webhook.url, tries=2, backoff=0.01)
    assert len(webhook.requests) == 2
    webhook.delay, webhook.script = 0.0, [404]
    with pytest.raises(DeliveryError, match="HTTP 404"):
        post_webhook(settings, digest, webhook.url, tries=3, backoff=0.01)
    assert len(webhook.requests) == 3  # a 4xx is final: not retried


def test_a_failing_webhook_run_is_retried_with_backoff_then_sent(digest_db, webhook):
    db, settings = digest_db
    webhook.script = [500, 500, 500]  # the whole first attempt fails (three tries)
    sub_id = subscribe(db, "webhook", webhook.url)
    svc = DigestService(db, settings, owner="t")
    import service.digest.deliver as deliver_mod

    svc.deliverer = lambda s, d, ch, tgt, sid, on_accepted=None: deliver_mod.post_webhook(s, d, tgt, backoff=0.01)
    (first,) = svc.tick(NOW)
    assert first.status == "failed" and "HTTP 500" in first.detail
    assert svc.tick(NOW) == []  # waiting for its backoff (1 minute)
    (second,) = svc.tick(NOW.replace(minute=2))
    assert second.status == "sent"
    with db.read() as conn:
        run = store.get_run(conn, sub_id, "2023-03-07")
    assert run.attempts == 2 and run.status == "sent" and len(webhook.requests) == 4


def test_dir_channel_writes_dated_files(digest_db, tmp_path):
    db, settings = digest_db
    digest = DigestService(db, settings, owner="t").build(topics=None, start=WINDOW[0], end=WINDOW[1],
                                                         tz="Asia/Seoul", now=NOW)
    delivered = write_files(digest, tmp_path / "out", sub_id=3)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["2023-03-07-digest-3.html", "2023-03-07-digest-3.json", "2023-03-07-digest-3.md",
                     "2023-03-07-digest-3.txt"]
    assert json.loads((tmp_path / "out" / "2023-03-07-digest-3.json").read_text())["period"] == "2023-03-07"
    assert "2023-03-07-digest-3.html" in delivered.detail
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DeliveryError, match="Could not write the digest into"):
        write_files(digest, blocker / "sub")
