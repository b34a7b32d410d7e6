"""The SSRF guard (issue 12, items 3 and 4): checked where the socket is opened, for feeds, feed
discovery and webhooks; one DNS answer is checked and connected to (no rebinding window); a failed
lookup fails closed; the IPv6 spellings of private IPv4 addresses are private; digest folders stay
inside the data directory. DNS is the one thing stood in for (no resolver can be run here)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

import service.net as net
from service.digest.runner import DigestService
from service.feeds.fetch import Fetcher
from service.models import utcnow
from service.store import digests as digest_store

from .conftest import HostileServer, healthy_feed


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1", False), ("fc00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False), ("::ffff:8.8.8.8", True),
    ("::127.0.0.1", False), ("::10.0.0.1", False),
    ("2002:7f00:1::", False), ("2002:a9fe:a9fe::1", False), ("2002:808:808::1", True),
    ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False), ("64:ff9b::808:808", True),
    ("64:ff9b:1::808:808", False), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
])
def test_which_addresses_are_public(address, public):
    assert net.is_public_address(address) is public


def fetch(url: str, *, allow_private: bool = False):
    async def run():
        async with Fetcher(timeout=5, allow_private_hosts=allow_private) as fetcher:
            return await fetcher.fetch(url)
    return asyncio.run(run())


def test_loopback_feed_is_refused_without_a_request(hostile):
    hostile.routes["/feed"] = (200, [("Content-Type", "application/rss+xml")], healthy_feed(1))
    for url in (hostile.url("/feed"), f"http://localhost:{hostile.port}/feed", f"http://[::ffff:127.0.0.1]:{hostile.port}/feed"):
        result = fetch(url)
        assert result.error_kind == "blocked", (url, result.error)
    assert hostile.requests == []
    assert fetch(hostile.url("/feed"), allow_private=True).ok


def test_the_checked_address_is_the_one_connected(hostile, monkeypatch):
    """Rebinding: the name is resolved once. Here the stand-in DNS answers 127.0.0.1 for a name the
    system cannot resolve at all, and the guard is told 127.0.0.1 is public: the fetch can only
    succeed by connecting to the address the guard checked."""
    hostile.routes["/feed"] = (200, [("Content-Type", "application/rss+xml")], healthy_feed(1))
    answers = []

    async def resolve(host, port):
        answers.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(net, "resolve_async", resolve)
    monkeypatch.setattr(net, "is_public_address", lambda a: str(a) == "127.0.0.1")
    result = fetch(f"http://rebind.invalid:{hostile.port}/feed")
    assert result.ok, result.error
    assert answers == ["rebind.invalid"]  # one lookup, no second one by the transport
    assert hostile.requests[0][2]["host"] == f"rebind.invalid:{hostile.port}"  # the URL's host, as sent


def test_a_name_answering_private_is_refused(hostile, monkeypatch):
    async def resolve(host, port):  # a public answer first, then a private one: any private one refuses
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(net, "resolve_async", resolve)
    result = fetch(f"http://rebind.invalid:{hostile.port}/feed")
    assert result.error_kind == "blocked" and "127.0.0.1" in result.error
    assert hostile.requests == []


def test_a_failed_lookup_fails_closed(hostile, monkeypatch):
    async def resolve(host, port):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(net, "resolve_async", resolve)
    result = fetch(f"http://127.0.0.1:{hostile.port}/feed")
    assert not result.ok and result.error_kind == "dns", result.error
    assert hostile.requests == []


def test_a_redirect_to_a_private_address_is_refused_at_the_hop(monkeypatch):
    """127.0.0.1 plays the public internet, 127.0.0.2 the private network behind it."""
    public, private = HostileServer(), HostileServer()
    try:
        private.routes["/secret"] = (200, [("Content-Type", "application/rss+xml")], healthy_feed(9))
        target = f"http://127.0.0.2:{private.port}/secret"
        # The private server listens on 127.0.0.1 only; reaching it at 127.0.0.2 needs no second bind:
        # the guard must refuse before any connection is tried.
        public.routes["/feed"] = (302, [("Location", target)], b"")
        monkeypatch.setattr(net, "is_public_address", lambda a: str(a) == "127.0.0.1")
        result = fetch(public.url("/feed"))
        assert result.error_kind == "blocked" and "127.0.0.2" in result.error, result.error
        assert public.paths() == ["/feed"] and private.requests == []
    finally:
        for s in (public, private):
            s.httpd.shutdown()
            s.httpd.server_close()


# -- webhooks and folders ------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://169.254.169.254/latest",
                                    "http://localhost:9/hook", "http://[::ffff:127.0.0.1]:9/hook", "http://0.0.0.0:9/"])
def test_webhook_on_a_private_address_is_refused_when_added(target, make_client):
    client = make_client(allow_private_hosts=False)
    response = client.post("/api/subscriptions", json={"channel": "webhook", "target": target})
    assert response.status_code == 400 and "private or local address" in response.json()["detail"]


def test_webhook_on_a_private_address_is_refused_at_send(digest_db, hostile):
    """A subscription stored before the guard existed (or by hand) is checked again at every send."""
    db, settings = digest_db
    settings = settings.model_copy(update={"allow_private_hosts": False})
    hostile.routes["/hook"] = (200, [], b"ok")
    with db.write() as conn:
        sub = digest_store.add_subscription(conn, channel="webhook", target=hostile.url("/hook"), topics_=None,
                                            send_at="07:00", tz="UTC", fmt="html", now=utcnow())
    outcome = DigestService(db, settings, owner="t").send_now(sub.id)
    assert outcome.status == "failed" and "private or local address" in outcome.detail
    assert hostile.requests == []


@pytest.mark.parametrize("target", ["../../../../tmp/followup-escape", "/tmp/followup-escape", "a/../../escape"])
def test_digest_folder_outside_the_data_dir_is_refused(target, make_client, tmp_path):
    client = make_client(data_dir=tmp_path / "data")
    response = client.post("/api/subscriptions", json={"channel": "dir", "target": target})
    assert response.status_code == 400 and "outside the data directory" in response.json()["detail"]
    assert client.post("/api/subscriptions", json={"channel": "dir", "target": "digests/daily"}).status_code == 201


def test_digest_folder_is_confined_at_send_too(digest_db, tmp_path):
    db, settings = digest_db
    data = tmp_path / "data"
    outside = tmp_path / "outside"
    data.mkdir()
    (data / "link").symlink_to(outside, target_is_directory=True)  # a symlink inside leading out
    settings = settings.model_copy(update={"data_dir": data})
    now = utcnow()
    with db.write() as conn:
        escape = digest_store.add_subscription(conn, channel="dir", target="../outside", topics_=None, send_at="07:00",
                                               tz="UTC", fmt="html", now=now)
        linked = digest_store.add_subscription(conn, channel="dir", target="link/x", topics_=None, send_at="07:00",
                                               tz="UTC", fmt="html", now=now)
        fine = digest_store.add_subscription(conn, channel="dir", target="inside", topics_=None, send_at="07:00",
                                             tz="UTC", fmt="html", now=now)
    service = DigestService(db, settings, owner="t")
    for sub in (escape, linked):
        outcome = service.send_now(sub.id)
        assert outcome.status == "failed" and "outside the data directory" in outcome.detail
    assert not outside.exists()
    assert service.send_now(fine.id).status == "sent" and len(list((data / "inside").iterdir())) == 4
    assert Path(settings.data_dir).resolve() == data.resolve()


def test_an_alert_connects_only_to_the_address_the_guard_checked(hostile, monkeypatch):
    """Apprise's HTTP notifiers open their sockets through requests (urllib3), not httpx: the guard sits
    there too. The stand-in DNS answers 127.0.0.1 for a name the system cannot resolve, and the guard is
    told 127.0.0.1 is public: the push can only arrive by connecting to the address the guard resolved
    and checked (before, Apprise resolved the name itself, so the answer it connected to was never checked)."""
    from service.alerts import push
    from service.config import Settings

    hostile.routes["/notify"] = (200, [("Content-Type", "application/json")], b"{}")
    looked_up = []

    def resolve(host, port):
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(net, "resolve_sync", resolve)
    monkeypatch.setattr(net, "is_public_address", lambda a: str(a) == "127.0.0.1")
    push(f"json://rebind.invalid:{hostile.port}/notify", "A new development", "Seoul and Tokyo", Settings(allow_private_hosts=False))
    [(method, path, headers, body)] = hostile.requests
    assert (method, path, headers["host"]) == ("POST", "/notify", f"rebind.invalid:{hostile.port}")
    assert b"Seoul and Tokyo" in body
    assert looked_up == ["rebind.invalid", "rebind.invalid"]  # the check before the push, and the connection


def test_an_alert_whose_name_turns_private_at_the_push_is_refused_without_a_request(hostile, monkeypatch):
    """Rebinding: public when the URL is checked, loopback when the notifier connects."""
    from service.alerts import push
    from service.config import Settings
    from service.errors import DeliveryError

    hostile.routes["/notify"] = (200, [("Content-Type", "application/json")], b"{}")
    answers = iter(["8.8.8.8", "127.0.0.1", "127.0.0.1", "127.0.0.1"])
    monkeypatch.setattr(net, "resolve_sync", lambda host, port: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))])
    with pytest.raises(DeliveryError, match="failed"):
        push(f"json://rebind.invalid:{hostile.port}/notify", "A new development", "Seoul", Settings(allow_private_hosts=False))
    assert hostile.requests == []
    # Other code in the process that uses urllib3 is not guarded by it: only inside a push.
    import urllib3

    assert urllib3.PoolManager().request("GET", hostile.url("/notify")).status == 200


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on loopback; the messages it accepted."""
    from aiosmtpd.controller import Controller

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    received: list[bytes] = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            received.append(envelope.content)
            return "250 OK"

    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def email_alert(port: int) -> str:
    return (f"mailto://rebind.invalid:{port}?smtp=rebind.invalid&mode=insecure"
            "&from=alerts@example.com&to=reader@example.com")


def test_an_email_alert_connects_only_to_the_address_the_guard_checked(smtp_inbox, monkeypatch):
    """Apprise's email notifier connects with smtplib (socket.create_connection): guarded the same way."""
    from service.alerts import push
    from service.config import Settings

    port, received = smtp_inbox
    monkeypatch.setattr(net, "resolve_sync", lambda host, p: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p))])
    monkeypatch.setattr(net, "is_public_address", lambda a: str(a) == "127.0.0.1")
    push(email_alert(port), "A new development", "Seoul and Tokyo", Settings(allow_private_hosts=False))
    assert len(received) == 1 and b"Seoul and Tokyo" in received[0]


def test_an_email_alert_whose_server_name_turns_private_is_refused(smtp_inbox, monkeypatch):
    from service.alerts import push
    from service.config import Settings
    from service.errors import DeliveryError

    port, received = smtp_inbox
    def resolve(host, p):  # public whenever the URL is checked, loopback when the notifier connects
        address = "127.0.0.1" if net._GUARDED.get() else "8.8.8.8"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, p))]

    monkeypatch.setattr(net, "resolve_sync", resolve)
    with pytest.raises(DeliveryError):
        push(email_alert(port), "A new development", "Seoul", Settings(allow_private_hosts=False))
    assert received == []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as outside:  # outside a push: not guarded
        assert outside.recv(100).startswith(b"220")
