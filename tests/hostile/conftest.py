"""Hostile peers on loopback: a server that answers each path with whatever bytes and headers a test
scripts (bombs, lies about types, redirects), and a server that accepts connections and never answers."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HEALTHY = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Healthy %d</title>
<link>https://healthy.example/%d</link>
<item><title>Healthy item one of feed %d</title><link>https://healthy.example/%d/1</link></item>
<item><title>Healthy item two of feed %d</title><link>https://healthy.example/%d/2</link></item>
</channel></rss>"""


def healthy_feed(n: int) -> bytes:
    return HEALTHY % ((n,) * 6)


_ZEROS = bytes(16 << 20)


def brotli_zeros(size: int) -> bytes:
    """A brotli bomb: `size` bytes of zeros (a multiple of 16 MiB) in about size/1600 bytes."""
    import brotli

    c = brotli.Compressor(quality=0)
    return b"".join([c.process(_ZEROS) for _ in range(size // len(_ZEROS))] + [c.finish()])


def gzip_zeros(size: int) -> bytes:
    """A gzip bomb: `size` bytes of zeros (a multiple of 16 MiB) in about size/1030 bytes."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join([c.compress(_ZEROS) for _ in range(size // len(_ZEROS))] + [c.flush()])


class HostileServer:
    """routes: path -> (status, [(header, value)], body bytes). Every request is recorded."""

    def __init__(self):
        self.routes: dict[str, tuple[int, list, bytes]] = {}
        self.requests: list[tuple[str, str, dict, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # noqa: ANN002
                pass

            def _answer(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, payload = server.routes.get(self.path, (404, [], b"not here"))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _answer  # noqa: N815

        class Server(ThreadingHTTPServer):
            request_queue_size = 128
            daemon_threads = True

            def handle_error(self, request, client_address):  # a client hanging up on a bomb is expected
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [p for _, p, _, _ in self.requests]


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


class SilentServer:
    """Accepts TCP connections and never sends a byte (a host that hangs every request)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.stopped = True
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


from ..digest.conftest import digest_db  # noqa: E402,F401 - fixtures shared with the digest and web tests
from ..web.conftest import client, make_client, web_db  # noqa: E402,F401


# The child's own high-water mark (VmHWM), read as it exits. Not wait4's ru_maxrss: that survives exec,
# so it counts the parent's size at fork time (a pytest worker of 380 MB made a 160 MB poll "peak" there).
_PEAK_WRAPPER = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(os.environ["FOLLOWUP_PEAK_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(_peak)
sys.argv = ["followup", *sys.argv[1:]]
from service.cli import main
main()
"""


def run_followup(args: list[str], env: dict, cwd) -> tuple[int, str, str, float]:
    """Run `followup ARGS` in a new process: (exit code, stdout, stderr, peak RSS in MB)."""
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".peak") as peak:
        proc = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, *args], cwd=cwd, capture_output=True, text=True,
                              env={**env, "FOLLOWUP_PEAK_FILE": peak.name})
        text = open(peak.name).read()
    return proc.returncode, proc.stdout, proc.stderr, int(text) / 1024 if text else float("nan")
