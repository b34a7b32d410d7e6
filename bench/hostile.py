"""Figures for docs/security.md: what hostile input costs the service now (issue 12).

    python bench/hostile.py [--only bombs,smtp,body,markup] [--code DIR]

bombs  One `followup poll --all` process per bomb, each against a loopback server that also serves two
       healthy feeds: peak RSS of the process (its VmHWM at exit), seconds, and whether the healthy feeds were
       read. Bombs: brotli and gzip of 1 GiB and 8 GiB of zeros, "gzip, gzip" and "gzip, br" stacks.
       Then all of them in one poll.
smtp   The window in which a killed sender could still send a digest twice: from the server's 250 to
       DATA until the run is committed as sent (SQLite; PostgreSQL too with FOLLOWUP_TEST_POSTGRES_URL),
       over 50 sends.
body   A real server (`followup serve`) is sent a 300 MB POST without a token, declared and chunked:
       status, seconds to the answer, and the server process's RSS before and after.
markup One feed item whose summary is a hostile run of markup (an unclosed comment, quoted attributes holding
       ">", …) repeated 20,000 and 80,000 times, as RSS and as Atom: seconds to parse and normalize the
       document (`parse_feed` + `normalize_feed`, what a poll does before storing), each in a child process
       stopped at 120 s, and how the time grows for 4x the input (4 is linear, 16 quadratic). `--code DIR`
       measures another checkout's service package (a worktree of the previous release, side by side).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import brotli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile.conftest import HostileServer, brotli_zeros, gzip_zeros, healthy_feed, run_followup  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GiB = 1 << 30


def fresh_db(folder: Path) -> str:
    url = f"sqlite:///{folder / 'followup.db'}"
    subprocess.run([sys.executable, "-m", "service", "db", "upgrade", "--db", url], cwd=REPO, check=True,
                   capture_output=True)
    return url


def poll_process(url: str) -> tuple[float, float, int, str]:
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url, "FOLLOWUP_ALLOW_PRIVATE_HOSTS": "true",
           "FOLLOWUP_FETCH_TIMEOUT_SECONDS": "60"}
    started = time.perf_counter()
    code, out, _, peak = run_followup(["poll", "--all"], env, REPO)
    return time.perf_counter() - started, peak, code, out


def bombs() -> None:
    print("Building bombs ...", flush=True)
    gz1 = gzip_zeros(GiB)
    cases = {
        "br, 1 GiB": ("br", brotli_zeros(GiB)),
        "br, 8 GiB": ("br", brotli_zeros(8 * GiB)),
        "gzip, 1 GiB": ("gzip", gz1),
        "gzip, 8 GiB": ("gzip", gzip_zeros(8 * GiB)),
        "gzip, gzip (1 GiB inside)": ("gzip, gzip", gzip.compress(gz1)),
        "gzip, br (1 GiB inside)": ("gzip, br", brotli.compress(gz1)),
    }
    from service.db import Database
    from service.store import feeds as feed_store

    server = HostileServer()
    server.routes["/healthy-1"] = (200, [("Content-Type", "application/rss+xml")], healthy_feed(1))
    server.routes["/healthy-2"] = (200, [("Content-Type", "application/rss+xml")], healthy_feed(2))
    rows = []
    for n, (name, (encoding, body)) in enumerate([*cases.items(), ("all of the above in one poll", (None, None))]):
        paths = [f"/bomb-{i}" for i in range(len(cases))] if body is None else [f"/bomb-{n}"]
        if body is not None:
            server.routes[paths[0]] = (200, [("Content-Type", "application/rss+xml"), ("Content-Encoding", encoding)], body)
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_db(Path(tmp))
            db = Database(url)
            with db.write() as conn:
                for path in [*paths, "/healthy-1", "/healthy-2"]:
                    feed_store.add_feed(conn, server.url(path))
            seconds, peak, code, out = poll_process(url)
            with db.read() as conn:
                feeds = {f.url.rsplit("/", 1)[1]: f for f in feed_store.list_feeds(conn)}
            db.dispose()
        healthy = all(feeds[h].last_status == "200" and not feeds[h].last_error for h in ("healthy-1", "healthy-2"))
        outcome = feeds[paths[0].lstrip("/")].last_error or "read"
        rows.append((name, len(body) if body else sum(len(b) for _, b in cases.values()), peak, seconds, healthy, code, outcome))
        print(f"{name}: {peak:.0f} MB peak, {seconds:.1f} s, healthy feeds read: {healthy}", flush=True)
    server.httpd.shutdown()
    print("\n| bomb | bytes on the wire | peak RSS of the poll | seconds | other feeds read | outcome |")
    print("|---|---:|---:|---:|---|---|")
    for name, size, peak, seconds, healthy, code, outcome in rows:
        print(f"| {name} | {size:,} | {peak:.0f} MB | {seconds:.1f} | {'yes' if healthy else 'NO'} | {outcome} (exit {code}) |")


def smtp_window() -> None:
    from aiosmtpd.controller import Controller

    from service.config import Settings
    from service.db import Database, upgrade
    from service.digest import deliver
    from service.digest.runner import DigestService
    from service.models import utcnow
    from service.store import digests as store

    class Inbox:
        accepted_at: list[float] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Inbox.accepted_at.append(time.perf_counter())  # the 250 goes out right after this returns
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    tmp = tempfile.mkdtemp()
    urls = [("SQLite", f"sqlite:///{tmp}/w.db", None)]
    if os.environ.get("FOLLOWUP_TEST_POSTGRES_URL"):
        from tests.conftest import new_pg_database

        os.environ.setdefault("FOLLOWUP_TEST_POSTGRES_URL", os.environ["FOLLOWUP_TEST_POSTGRES_URL"])
        pg_url, drop = new_pg_database()
        urls.append(("PostgreSQL", pg_url, drop))
    print("\n| database | sends | 250 to committed: median | p95 | max |")
    print("|---|---:|---:|---:|---:|")
    for name, url, drop in urls:
        db = Database(url)
        upgrade(db)
        settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=port, data_dir=Path(tmp))
        windows = []

        def timed(settings_, digest, channel, target, sub_id, on_accepted=None):  # noqa: ANN001
            def accepted() -> None:
                on_accepted()  # the write transaction that records the send, committed
                windows.append(time.perf_counter() - Inbox.accepted_at[-1])
            return deliver.deliver(settings_, digest, channel, target, sub_id, on_accepted=accepted)

        with db.write() as conn:
            subs = [store.add_subscription(conn, channel="email", target=f"a{i}@example.org", topics_=None,
                                           send_at="07:00", tz="UTC", fmt="html", now=utcnow()).id for i in range(50)]
        service = DigestService(db, settings, owner="bench", deliverer=timed)
        for sub_id in subs:
            service.send_now(sub_id)
        db.dispose()
        if drop:
            drop()
        ms = sorted(w * 1000 for w in windows)
        print(f"| {name} | {len(ms)} | {statistics.median(ms):.1f} ms | {ms[int(len(ms) * 0.95) - 1]:.1f} ms | {ms[-1]:.1f} ms |")
    controller.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def body_limit() -> None:
    print("\n| 300 MB POST | server | status | seconds | server RSS before | after |")
    print("|---|---|---:|---:|---:|---:|")
    for token in ("bench-token", None):
        _body_limit(token)


def _body_limit(token: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_db(Path(tmp))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "FOLLOWUP_DATABASE_URL": url}
        if token:
            env["FOLLOWUP_API_TOKEN"] = token
        server = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=REPO, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)

            def rss() -> int:
                with open(f"/proc/{server.pid}/status") as f:
                    return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))

            for mode in ("declared Content-Length", "chunked"):
                before = rss()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.putrequest("POST", "/api/feeds.opml")
                conn.putheader("Content-Type", "text/x-opml")
                if mode == "chunked":
                    conn.putheader("Transfer-Encoding", "chunked")
                else:
                    conn.putheader("Content-Length", str(300 << 20))
                conn.endheaders()
                started = time.perf_counter()
                chunk = b"x" * (1 << 20)
                try:
                    for _ in range(300):
                        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if mode == "chunked" else chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                status = conn.getresponse().status
                seconds = time.perf_counter() - started
                conn.close()
                who = "token set, none sent" if token else "no token configured"
                print(f"| {mode} | {who} | {status} | {seconds:.2f} | {before} MB | {rss()} MB |")
        finally:
            server.terminate()
            server.wait(10)


MARKUP = ["<!--", "<a x='>' ", "</a x='>' ", "<p x=\"<", "<a", "<div>", "<xmp><iframe>", "<script>"]
_MARKUP_CHILD = """
import html, sys, time
from datetime import datetime, timezone
from service.feeds.parse import parse_feed
from service.feeds.normalize import normalize_feed
kind, pattern, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = html.escape(pattern * n)
if kind == "rss":
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>t</title>'
           '<link>http://127.0.0.1/a</link><description>' + text + '</description></item></channel></rss>')
else:
    doc = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><title>t</title>'
           '<id>urn:x:1</id><link href="http://127.0.0.1/a"/><summary type="html">' + text + '</summary></entry></feed>')
started = time.perf_counter()
normalize_feed(parse_feed(doc.encode()), "http://127.0.0.1/feed", datetime.now(timezone.utc))
print(time.perf_counter() - started)
"""


def markup(code: Path, cap: float = 120.0) -> None:
    print(f"Hostile markup in one summary, parse + normalize, service package of {code}")
    print(f"{'pattern':<16} {'kind':<5} {'x20,000':>9} {'x80,000':>9}  growth")
    for pattern in MARKUP:
        for kind in ("rss", "atom"):
            cells = []
            for n in (20_000, 80_000):
                try:
                    done = subprocess.run([sys.executable, "-c", _MARKUP_CHILD, kind, pattern, str(n)], cwd=code,
                                          capture_output=True, text=True, timeout=cap, check=True)
                    cells.append(float(done.stdout.strip()))
                except subprocess.TimeoutExpired:
                    cells.append(None)
            shown = [f"{c:8.2f}s" if c is not None else f">{cap:.0f} s".rjust(9) for c in cells]
            growth = (f"{cells[1] / cells[0]:.1f}x" if None not in cells and cells[0] > 0
                      else f">{cap / cells[0]:.0f}x" if cells[0] else "-")
            print(f"{pattern!r:<16} {kind:<5} {shown[0]} {shown[1]}  {growth}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="bombs,smtp,body,markup")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose service package `markup` measures")
    args = parser.parse_args()
    chosen = args.only.split(",")
    if "bombs" in chosen:
        bombs()
    if "smtp" in chosen:
        smtp_window()
    if "body" in chosen:
        body_limit()
    if "markup" in chosen:
        markup(args.code.resolve())


if __name__ == "__main__":
    main()
