"""A digest is delivered once (issue 12, item 7): the run is recorded as sent the moment the mail
server answers 250 to DATA, so a 421 or a dropped connection at QUIT, or the sender killed with
SIGKILL after acceptance, never sends it again. Real aiosmtpd servers that misbehave after DATA."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from service.digest.runner import DigestService
from service.store import digests as store

from ..digest.test_delivery import NOW, subscribe

REPO = Path(__file__).resolve().parents[2]


class Inbox:
    def __init__(self):
        self.messages = []
        self.quit_seen = threading.Event()
        self.status_at_quit = None
        self.db = None
        self.sub_id = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        return "250 2.0.0 Accepted"


class MisbehavingController(Controller):
    """QUIT is answered with 421 (mode "421"), by closing the connection ("drop"), or not at all
    until the test has killed the client ("hang")."""

    def __init__(self, handler, mode, **kw):
        self.mode = mode
        super().__init__(handler, **kw)

    def factory(self):
        controller = self

        class Server(SMTP):
            async def smtp_QUIT(self, arg):  # noqa: N802
                inbox = controller.handler
                if inbox.db is not None:  # what the sender had recorded when it said QUIT
                    with inbox.db.read() as conn:
                        inbox.status_at_quit = store.get_subscription(conn, inbox.sub_id).last_status
                inbox.quit_seen.set()
                if controller.mode == "421":
                    await self.push("421 4.3.2 Shutting down")
                elif controller.mode == "hang":
                    await asyncio.sleep(30)
                self.transport.close()

        return Server(self.handler)


def start(mode):
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = MisbehavingController(inbox, mode, hostname="127.0.0.1", port=port)
    controller.start()
    return inbox, controller, port


@pytest.mark.parametrize("mode", ["421", "drop"])
def test_an_error_after_acceptance_is_a_sent_digest_with_a_warning(digest_db, mode):
    db, settings = digest_db
    inbox, controller, port = start(mode)
    try:
        settings = settings.model_copy(update=dict(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=5))
        sub_id = subscribe(db, "email", "analyst@example.org")
        inbox.db, inbox.sub_id = db, sub_id
        service = DigestService(db, settings, owner="t")
        (outcome,) = service.tick(NOW)
        assert outcome.status == "sent" and "warning" in outcome.detail, outcome.detail
        assert inbox.status_at_quit == "sent"  # recorded before QUIT was even sent
        for later in (NOW + timedelta(minutes=5), NOW + timedelta(hours=2)):  # past every retry backoff
            assert service.tick(later) == []
        assert len(inbox.messages) == 1
        with db.read() as conn:
            runs = store.recent_runs(conn, sub_id)
        assert [r.status for r in runs] == ["sent"] and runs[0].attempts == 1
    finally:
        controller.stop()


def test_sigkill_after_acceptance_does_not_send_twice(digest_db, tmp_path):
    """`followup digest --send` in its own process, killed with SIGKILL while it waits for the answer to
    QUIT (after the server accepted the message); the next send finds the period already sent."""
    db, settings = digest_db
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("one database is enough for the process-level check")
    inbox, controller, port = start("hang")
    try:
        sub_id = subscribe(db, "email", "analyst@example.org")
        env = {**os.environ, "FOLLOWUP_DATABASE_URL": settings.database_url, "FOLLOWUP_SMTP_HOST": "127.0.0.1",
               "FOLLOWUP_SMTP_PORT": str(port), "FOLLOWUP_SMTP_TIMEOUT_SECONDS": "60"}
        command = [sys.executable, "-m", "service", "digest", "--subscription", str(sub_id), "--send"]
        for attempt in range(3):
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if attempt == 0:
                assert inbox.quit_seen.wait(60), proc.stderr.read() if proc.poll() is not None else "no QUIT"
                os.kill(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=60)
            if attempt:
                assert proc.returncode == 0 and b"already sent" in out, (out, err)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
