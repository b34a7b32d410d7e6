"""A real HTTP server on loopback that serves real captured feeds with the behaviours fetch must handle.

Routes (all GET):
  /feed/<name>            the file from ../shared/data (see FeedServer.files) with ETag + Last-Modified,
                          answering 304 to matching If-None-Match / If-Modified-Since
  /gzip/<name>, /br/<name>  the same body, Content-Encoding gzip / br
  /charset/<cs>/<name>    the file with Content-Type: application/xml; charset=<cs>
  /moved/<name>           301 -> /feed/<name>        /temp/<name>  302 -> /feed/<name>
  /chain/<name>           301 -> /temp/<name> -> 302 -> /feed/<name>
  /gone                   410                          /missing      404
  /ratelimit/<seconds>    429 with Retry-After         /unavailable  503 with Retry-After: 120
  /error                  500                          /slow/<secs>  sleeps, then serves a tiny feed
  /huge                   an endless body (for the size cap)
  /html                   an HTML page, not a feed
  /site                   an HTML page advertising /feed/guardian.rss with <link rel="alternate"> (discovery)
Every request is logged in `requests` as (path, headers).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli

TINY_FEED = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Tiny</title>
<item><title>Slow but fine</title><link>http://example.com/slow</link><guid>http://example.com/slow</guid></item>
</channel></rss>"""


class FeedServer:
    def __init__(self, files: dict[str, Path]):
        self.files = files
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.last_modified = formatdate(time.time() - 3600, usegmt=True)
        self.overrides: dict[str, bytes] = {}  # name -> body, to simulate a feed changing
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # bench/feedfarm.py: 40 ms per kept-alive response otherwise

            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                server.route(self)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops bursts of connections (1 s stalls)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> "FeedServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def body(self, name: str) -> bytes:
        return self.overrides.get(name) or self.files[name].read_bytes()

    # -- routing -----------------------------------------------------------------------------
    def route(self, h: BaseHTTPRequestHandler) -> None:
        parts = h.path.split("?")[0].strip("/").split("/")
        kind, rest = parts[0], parts[1:]
        if kind == "feed":
            return self.serve_feed(h, rest[0])
        if kind in ("gzip", "br"):
            return self.serve_feed(h, rest[0], encoding=kind)
        if kind == "charset":
            return self.serve_feed(h, rest[1], content_type=f"application/xml; charset={rest[0]}")
        if kind == "moved":
            return self.redirect(h, 301, f"/feed/{rest[0]}")
        if kind == "temp":
            return self.redirect(h, 302, f"/feed/{rest[0]}")
        if kind == "chain":
            return self.redirect(h, 301, f"/temp/{rest[0]}")
        if kind == "gone":
            return self.plain(h, 410, b"gone")
        if kind == "missing":
            return self.plain(h, 404, b"not found")
        if kind == "ratelimit":
            return self.plain(h, 429, b"slow down", {"Retry-After": rest[0]})
        if kind == "unavailable":
            return self.plain(h, 503, b"later", {"Retry-After": "120"})
        if kind == "error":
            return self.plain(h, 500, b"oops")
        if kind == "slow":
            time.sleep(float(rest[0]))
            return self.plain(h, 200, TINY_FEED, {"Content-Type": "application/rss+xml"})
        if kind == "huge":
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Connection", "close")
            h.end_headers()
            try:
                chunk = b"<!-- " + b"x" * 65536 + b" -->"
                for _ in range(400):  # ~26 MB at most; the client stops reading long before
                    h.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if kind == "site":
            page = (b'<html><head><title>A news site</title><link rel="alternate" type="application/rss+xml" '
                    b'title="World news" href="/feed/guardian.rss"><link rel="stylesheet" href="/s.css"></head>'
                    b'<body><p>News</p></body></html>')
            return self.plain(h, 200, page, {"Content-Type": "text/html; charset=utf-8"})
        if kind == "html":
            return self.plain(h, 200, b"<html><head><title>Hi</title></head><body><p>Not a feed</p></body></html>",
                              {"Content-Type": "text/html; charset=utf-8"})
        return self.plain(h, 404, b"no route")

    def serve_feed(self, h, name: str, encoding: str | None = None, content_type: str | None = None) -> None:  # noqa: ANN001
        if name not in self.files:
            return self.plain(h, 404, b"no such fixture")
        body = self.body(name)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if h.headers.get("If-None-Match") == etag or (
                h.headers.get("If-Modified-Since") == self.last_modified and not h.headers.get("If-None-Match")):
            return self.plain(h, 304, b"", {"ETag": etag})
        headers = {"ETag": etag, "Last-Modified": self.last_modified,
                   "Content-Type": content_type or ("application/json" if self.files[name].suffix == ".json" else "application/xml")}
        if encoding == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        elif encoding == "br":
            body = brotli.compress(body)
            headers["Content-Encoding"] = "br"
        return self.plain(h, 200, body, headers)

    @staticmethod
    def redirect(h, status: int, location: str) -> None:  # noqa: ANN001
        FeedServer.plain(h, status, b"", {"Location": location})

    @staticmethod
    def plain(h, status: int, body: bytes, headers: dict | None = None) -> None:  # noqa: ANN001
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if "Content-Type" not in (headers or {}):
            h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and h.command != "HEAD":
            try:
                h.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): expected
