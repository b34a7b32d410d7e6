"""Decompression bombs through Content-Encoding (issue 12, item 1): the size cap applies to decoded
bytes as they are produced, stacked encodings are refused, and the other feeds of the same poll are
read. Measured in a real `followup poll --all` process against a loopback server: peak RSS < 300 MB."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import brotli
import pytest

from service.db import Database
from service.net import CappedDecoder, TooLarge, UnsupportedEncoding
from service.store import feeds as feed_store

from .conftest import brotli_zeros, gzip_zeros, healthy_feed, run_followup

REPO = Path(__file__).resolve().parents[2]
GiB = 1 << 30


@pytest.fixture(scope="module")
def bombs():
    br1, br8, gz1 = brotli_zeros(GiB), brotli_zeros(8 * GiB), gzip_zeros(GiB)
    return {
        "/br-1g": ("br", br1),
        "/br-8g": ("br", br8),
        "/gzip-1g": ("gzip", gz1),
        "/gzip-gzip": ("gzip, gzip", gzip.compress(gz1)),  # 1 GiB behind two layers (~1 KB on the wire)
        "/gzip-br": ("gzip, br", brotli.compress(gz1)),
        "/deflate-1g": ("deflate", zlib.compress(bytes(64 << 20), 9)),
    }


def test_poll_survives_every_bomb_and_reads_the_healthy_feeds(hostile, bombs, tmp_path, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "followup.db")
    url = f"sqlite:///{tmp_path / 'followup.db'}"
    for path, (encoding, body) in bombs.items():
        hostile.routes[path] = (200, [("Content-Type", "application/rss+xml"), ("Content-Encoding", encoding)], body)
    hostile.routes["/healthy-1"] = (200, [("Content-Type", "application/rss+xml")], healthy_feed(1))
    hostile.routes["/healthy-2"] = (200, [("Content-Type", "application/rss+xml"), ("Content-Encoding", "br")],
                                    brotli.compress(healthy_feed(2)))
    db = Database(url)
    with db.write() as conn:
        for path in [*bombs, "/healthy-1", "/healthy-2"]:
            feed_store.add_feed(conn, hostile.url(path))
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url, "FOLLOWUP_ALLOW_PRIVATE_HOSTS": "true",
           "FOLLOWUP_FETCH_TIMEOUT_SECONDS": "20"}
    code, out, err, peak_mb = run_followup(["poll", "--all"], env, REPO)
    assert code == 0, err
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"
    with db.read() as conn:
        feeds = {f.url.rsplit("/", 1)[1]: f for f in feed_store.list_feeds(conn)}
    for name in ("healthy-1", "healthy-2"):
        assert feeds[name].last_error is None and feeds[name].last_status == "200", (name, feeds[name].last_error)
    assert "4 new entries" in out or "new entries" in out
    for name in ("br-1g", "br-8g", "gzip-1g", "deflate-1g"):
        assert "larger than the 10 MB limit" in (feeds[name].last_error or ""), (name, feeds[name].last_error)
    for name in ("gzip-gzip", "gzip-br"):
        assert "stacked several compressions" in (feeds[name].last_error or ""), (name, feeds[name].last_error)
    db.dispose()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "br", "identity", None])
def test_decoder_gives_the_body_back_and_stops_at_the_cap(encoding):
    body = b"<rss>" + b"x" * 300_000 + b"</rss>"
    wire = {"gzip": gzip.compress(body), "deflate": zlib.compress(body), "br": brotli.compress(body),
            "raw-deflate": zlib.compress(body)[2:-4], "identity": body, None: body}[encoding]
    header = "deflate" if encoding == "raw-deflate" else encoding
    decoder = CappedDecoder(header, limit=len(body))
    pieces = [p for i in range(0, len(wire), 777) for p in decoder.feed(wire[i:i + 777])] + decoder.flush()
    assert b"".join(pieces) == body
    tight = CappedDecoder(header, limit=len(body) - 1)
    with pytest.raises(TooLarge):
        for i in range(0, len(wire), 777):
            tight.feed(wire[i:i + 777])
        tight.flush()


def test_one_chunk_of_brotli_never_inflates_past_a_step():
    wire = brotli_zeros(GiB)
    decoder = CappedDecoder("br", limit=50 << 20)
    with pytest.raises(TooLarge):
        decoder.feed(wire)  # the whole 1 GiB bomb in one call: stopped after ~50 MB, in 256 KB steps
    assert decoder.size <= (50 << 20) + (256 << 10)


@pytest.mark.parametrize("header", ["gzip, gzip", "br, gzip", "compress", "zstd"])
def test_stacked_or_unknown_encodings_are_refused(header):
    with pytest.raises(UnsupportedEncoding):
        CappedDecoder(header, limit=1 << 20)
