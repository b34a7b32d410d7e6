"""A feed farm: N simulated feeds on a loopback HTTP server, built from the real 2023 items.

    python bench/feedfarm.py --feeds 2000 --seconds 600 [--opml farm.opml] [--change 0.1]

Feed i shows the latest `items` entries of one real source (sources are dealt round-robin, each feed
starting at its own offset) at the farm's simulated time. Each `advance()` is one polling cycle: a
`change` share of the feeds publish (three new items each); the others answer conditional requests
with 304 (real ETag and Last-Modified). A share of feeds can be made slow, failing (500), hanging
(longer than a client's timeout) or malformed (a truncated body). Every GUID carries its feed number,
so N feeds hold N × items distinct entries.

Bounded and self-stopping: loopback only, at most `max_requests` requests and `max_seconds` seconds,
then it answers 503 and shuts down. Used by tests/test_workers.py and bench/ingest.py.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import threading
import time
from collections import Counter
from email.utils import formatdate
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import items as corpus_items  # noqa: E402


@lru_cache(maxsize=4)
def sources(limit: int = 60_000) -> tuple[tuple[str, tuple[dict, ...]], ...]:
    """The first `limit` real items, grouped by source, newest first: ((title, items), ...)."""
    by_source: dict[str, list[dict]] = {}
    titles: dict[str, str] = {}
    for item in corpus_items(limit=limit):
        by_source.setdefault(item["source"], []).append(item)
        titles[item["source"]] = item.get("source_title") or item["source"]
    return tuple((titles[s], tuple(sorted(v, key=lambda i: i["date_published"], reverse=True)))
                 for s, v in sorted(by_source.items()) if len(v) >= 40)


class FeedFarm:
    def __init__(self, n_feeds: int, *, items: int = 20, change: float = 0.1, latency: float = 0.0,
                 error_share: float = 0.0, hang_share: float = 0.0, malformed_share: float = 0.0,
                 hang_seconds: float = 5.0, seed: int = 1, max_requests: int = 2_000_000,
                 max_seconds: float = 3600.0, corpus_limit: int = 60_000):
        self.n = n_feeds
        self.items = items
        self.change = change
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.seed = seed
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.sources = sources(corpus_limit)
        self.cycle = 0
        self.versions = [0] * n_feeds
        self.kinds = []
        rng = random.Random(seed)
        for _ in range(n_feeds):
            r = rng.random()
            kind = ("error" if r < error_share else "hang" if r < error_share + hang_share
                    else "malformed" if r < error_share + hang_share + malformed_share else "ok")
            self.kinds.append(kind)
        self.stats: Counter = Counter()
        self.requests: Counter = Counter()  # feed number -> GET count
        self.total_requests = 0
        self._fragments: dict = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._deadline = 0.0

    # -- content ----------------------------------------------------------------------------
    def advance(self) -> int:
        """One polling cycle later: a `change` share of the feeds publish. Returns how many changed."""
        self.cycle += 1
        rng = random.Random(self.seed * 1_000_003 + self.cycle)
        changed = 0
        for i in range(self.n):
            if rng.random() < self.change:
                self.versions[i] += 1
                changed += 1
        return changed

    def etag(self, i: int) -> str:
        return f'"f{i}-v{self.versions[i]}"'

    def last_modified(self, i: int) -> str:
        return formatdate(1_672_531_200 + 3600 * self.versions[i] + i % 3600, usegmt=True)

    def rows(self, i: int) -> list[dict]:
        """The corpus items feed i serves now. Feeds built on the same source overlap: the same article
        is then served by two feeds under two GUIDs, as real overlapping feeds do."""
        _, pool = self.sources[i % len(self.sources)]
        start = (i * 37) % len(pool)
        shift = 3 * self.versions[i]
        return [pool[(start - shift + k) % len(pool)] for k in range(self.items)]

    def body(self, i: int) -> bytes:
        title, _ = self.sources[i % len(self.sources)]
        rows = self.rows(i)
        parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                 f"<title>{escape(title)} (farm {i})</title><link>http://farm.invalid/{i}</link>"
                 f"<description>Simulated feed {i}</description>"]
        for item in rows:
            head, tail = self._item_xml(item)
            parts.append(f'{head}<guid isPermaLink="false">farm-{i}-{item["id"]}</guid>{tail}')
        parts.append("</channel></rss>\n")
        data = "".join(parts).encode("utf-8")
        if self.kinds[i] == "malformed":
            return data[: len(data) // 3]
        return data

    def _item_xml(self, item: dict) -> tuple[str, str]:
        """An item's XML around its (per-feed) GUID, built once: serving, not building XML, is what the
        farm should spend its time on."""
        cached = self._fragments.get(item["id"])
        if cached is None:
            cached = (f"<item><title>{escape(item['title'] or '')}</title><link>{escape(item['link'] or '')}</link>",
                      f"<pubDate>{formatdate(_stamp(item['date_published']), usegmt=True)}</pubDate>"
                      f"<description>{escape(item.get('description') or '')}</description></item>")
            self._fragments[item["id"]] = cached
        return cached

    # -- serving ----------------------------------------------------------------------------
    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed/{i}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def start(self, port: int = 0) -> "FeedFarm":
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm on, the body waited for the
            # client's delayed ACK of the headers: 40 ms per response on a kept-alive connection, which
            # capped the farm near 23 sequential requests a second (it, not Followup, was the bound).
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802
                farm.handle(self)

            def log_message(self, *args):  # quiet
                pass

        class Server(ThreadingHTTPServer):
            # socketserver's default listen backlog is 5: a burst of new connections overflowed it and
            # the dropped SYNs were retried after the kernel's 1-second timeout (1.0-1.2 s stalls).
            request_queue_size = 1024

        self._server = Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._deadline = time.monotonic() + self.max_seconds
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._watchdog, daemon=True).start()
        return self

    def _watchdog(self) -> None:
        while self._server is not None:
            if time.monotonic() > self._deadline or self.total_requests > self.max_requests:
                self.stop()
                return
            time.sleep(0.5)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = h.path.split("?")[0].strip("/").split("/")
        if parts == ["control", "advance"]:  # when the farm runs in its own process (bench/ingest.py)
            return self._send(h, 200, str(self.advance()).encode(), "text/plain")
        if len(parts) != 2 or parts[0] != "feed" or not parts[1].isdigit() or int(parts[1]) >= self.n:
            return self._send(h, 404, b"no such feed", "text/plain")
        i = int(parts[1])
        with self.lock:
            self.requests[i] += 1
            self.total_requests += 1
            total = self.total_requests
        if total > self.max_requests or time.monotonic() > self._deadline:
            return self._send(h, 503, b"the farm is closing", "text/plain")
        if self.latency:
            time.sleep(self.latency)
        kind = self.kinds[i]
        if kind == "error":
            self._count("500")
            return self._send(h, 500, b"simulated failure", "text/plain")
        if kind == "hang":
            self._count("hang")
            time.sleep(self.hang_seconds)
        etag = self.etag(i)
        if h.headers.get("If-None-Match") == etag:
            self._count("304")
            return self._send(h, 304, b"", None, {"ETag": etag})
        self._count("200")
        self._send(h, 200, self.body(i), "application/rss+xml; charset=utf-8",
                   {"ETag": etag, "Last-Modified": self.last_modified(i)})

    def _count(self, key: str) -> None:
        with self.lock:
            self.stats[key] += 1

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str | None,
              headers: dict | None = None) -> None:
        try:
            h.send_response(status)
            if ctype:
                h.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if body:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def opml(self) -> str:
        lines = ['<?xml version="1.0" encoding="utf-8"?>', '<opml version="2.0"><head><title>Feed farm</title></head><body>']
        lines += [f'<outline type="rss" text="farm {i}" xmlUrl="{self.url(i)}"/>' for i in range(self.n)]
        lines.append("</body></opml>")
        return "\n".join(lines) + "\n"


def _stamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def fingerprint(farm: FeedFarm) -> str:
    """A short hash of what the farm serves now (for checking that two runs saw the same data)."""
    digest = hashlib.sha256()
    for i in range(farm.n):
        digest.update(farm.etag(i).encode())
    return digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--change", type=float, default=0.1)
    parser.add_argument("--opml", type=Path, help="write the farm's feed list here")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    args = parser.parse_args()
    farm = FeedFarm(args.feeds, items=args.items, change=args.change, max_seconds=args.seconds,
                    max_requests=50_000_000, latency=args.latency).start(args.port)
    if args.opml:
        args.opml.write_text(farm.opml(), encoding="utf-8")
    print(f"Serving {args.feeds} feeds on http://127.0.0.1:{farm.port}/feed/0 … /feed/{args.feeds - 1} "
          f"for {args.seconds:g} s", flush=True)
    try:
        while farm._server is not None:  # noqa: SLF001
            time.sleep(1)
    except KeyboardInterrupt:
        farm.stop()


if __name__ == "__main__":
    main()
