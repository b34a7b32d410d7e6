"""A small real database for digests: the seed topics, and feed files (with the hostile HTML real feeds
carry) ingested through the real pipeline."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.config import Settings
from service.db import Database
from service.feeds.refresh import Pipeline
from service.seeds import load_seeds

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{feed}</title>{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><description>{summary}</description><pubDate>{date}</pubDate></item>"

# 07:00 in Seoul on 7 March 2023 is 22:00 UTC on the 6th; the window is the 24 h before it.
WINDOW = (datetime(2023, 3, 5, 22, tzinfo=timezone.utc), datetime(2023, 3, 6, 22, tzinfo=timezone.utc))
FEEDS = {
    "outlet-a.xml": ("Outlet A", [
        ("Supreme Court orders Japanese firm Nippon Steel to compensate forced labor victims",
         "https://a.example/ruling", "The court upheld the ruling.", "Sat, 04 Mar 2023 10:00:00 +0000"),
        ("South Korea announces plan to compensate Japan forced labor victims", "https://a.example/plan",
         "&lt;p&gt;Seoul will pay victims through a &lt;b&gt;public foundation&lt;/b&gt; &amp;amp; ask Japanese firms to "
         "contribute.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "Mon, 06 Mar 2023 01:00:00 +0000"),
    ]),
    "outlet-b.xml": ("Outlet B &amp;lt;script&amp;gt;", [  # its name, as text, is "Outlet B <script>"
        ("Japan welcomes South Korea forced labor compensation plan &lt;img src=x onerror=alert(1)&gt;",
         "https://b.example/welcome?a=1&amp;b=2", "Tokyo said &lt;i&gt;the plan&lt;/i&gt; was a step forward.",
         "Mon, 06 Mar 2023 03:00:00 +0000"),
        ("Nippon Steel forced labor victims' lawyers say Supreme Court ruling must be honoured",
         "https://b.example/lawyers", "Lawyers for the plaintiffs spoke in Seoul.", "Mon, 06 Mar 2023 09:00:00 +0000"),
    ]),
    "outlet-c.xml": ("Outlet C", [
        ("Forced labor victims reject Seoul's compensation plan from Japan's firms", "javascript:alert(1)",
         "Victims' groups said *the plan* [ignores] Japan's responsibility.", "Mon, 06 Mar 2023 08:00:00 +0000"),
        ("Weather: a sunny week ahead", "https://c.example/weather", "Nothing to do with Korea.",
         "Mon, 06 Mar 2023 06:00:00 +0000"),
    ]),
}


def write_feeds(folder):
    paths = []
    for name, (feed, items) in FEEDS.items():
        body = "".join(ITEM.format(title=t, link=l, summary=s, date=d) for t, l, s, d in items)
        path = folder / name
        path.write_text(RSS.format(feed=feed, items=body), encoding="utf-8")
        paths.append(path)
    return paths


def seeded(settings, folder, now=None) -> Database:
    """A Database for `settings` with the seed topics loaded and the feeds above ingested."""
    db = Database(settings.database_url)
    load_seeds(db, settings.seeds_dir)
    pipeline = Pipeline(db, settings)
    for path in write_feeds(folder):
        pipeline.ingest_file(path, now=now)
    return db


@pytest.fixture
def digest_db(db_url, tmp_path):
    """(Database, Settings) with the seeds loaded and the feeds above ingested."""
    settings = Settings(database_url=db_url, public_url="http://127.0.0.1:8080", allow_private_hosts=True, data_dir=tmp_path,
                        webhook_timeout_seconds=1.0)
    db = seeded(settings, tmp_path)
    yield db, settings
    db.dispose()


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver: answers from a script of statuses (then 200), optionally slowly."""

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server = self.server
        with server.lock:
            status = server.script.pop(0) if server.script else 200
            server.requests.append((status, body))
        if server.delay:
            time.sleep(server.delay)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.script, server.requests, server.delay, server.lock = [], [], 0.0, threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()
