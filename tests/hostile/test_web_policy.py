"""One request policy for every route (issue 12, items 5, 6 and 9): the Host allow-list (DNS
rebinding), cross-site writes refused (checked in real Chromium from a page on another origin),
FOLLOWUP_API_PROTECT_READS on every route with a login cookie and secret Atom URLs, and request
bodies limited before any authentication or route work."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.store import feeds as feed_store
from service.web.security import atom_key

from ..conftest import serving

OPML = (b'<?xml version="1.0"?><opml version="2.0"><body><outline type="rss" text="Evil" '
        b'xmlUrl="https://evil.example/feed.xml"/></body></opml>')


def rss() -> int:
    """This process's resident memory in bytes (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def feed_urls(db) -> set[str]:
    with db.read() as conn:
        return {f.url for f in feed_store.list_feeds(conn)}


# -- Host ------------------------------------------------------------------------------------------
def test_unknown_host_names_are_refused(make_client):
    client = make_client()
    assert client.get("/api/topics", headers={"Host": "rebind.evil.example"}).status_code == 421
    assert client.get("/", headers={"Host": "rebind.evil.example:8080"}).status_code == 421
    for host in ("127.0.0.1:8080", "localhost", "[::1]:8080", "testserver", "192.168.1.5:8080", "[fd00::5]"):
        assert client.get("/api/topics", headers={"Host": host}).status_code == 200, host
    public = make_client(public_url="https://news.example.org/followup", allowed_hosts="intranet.lan")
    for host in ("news.example.org", "intranet.lan:8080"):
        assert public.get("/api/topics", headers={"Host": host}).status_code == 200, host
    assert make_client(allowed_hosts="*").get("/api/topics", headers={"Host": "any.example"}).status_code == 200


# -- cross-site writes ---------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_simple_cross_site_bodies_are_refused(content_type, client, web_db):
    db, _ = web_db
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/feeds.opml", content=OPML, headers=headers)
    assert response.status_code == 403, response.text
    assert "https://evil.example/feed.xml" not in feed_urls(db)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://testserver:9999"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}])
def test_other_origins_are_refused_even_with_json(headers, client, web_db):
    db, _ = web_db
    response = client.post("/api/feeds.opml", content=OPML, headers={"Content-Type": "text/x-opml", **headers})
    assert response.status_code == 403
    response = client.delete("/api/topics/gsomia", headers=headers)
    assert response.status_code == 403 and client.get("/api/topics/gsomia").status_code == 200


def test_same_origin_and_tools_still_write(client, web_db):
    db, _ = web_db
    response = client.post("/api/feeds.opml", content=OPML,
                           headers={"Content-Type": "text/x-opml", "Origin": "http://testserver",
                                    "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200 and response.json()["added"] == 1
    assert client.post("/api/topics/test", json={"query": "gsomia"}).status_code == 200  # curl-like: no Origin


@pytest.fixture
def served(web_db):
    """The app on a real loopback port (uvicorn), as `followup serve` runs it; yields the port."""
    db, settings = web_db
    with serving(settings.model_copy(update={"allowed_hosts": ""}), db) as base:
        yield int(base.rsplit(":", 1)[1])


class _Attacker(BaseHTTPRequestHandler):
    page = b""

    def log_message(self, *args):  # noqa: ANN002
        pass

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)


def test_a_page_on_another_origin_cannot_write_in_chromium(served, browser, web_db):
    """Real Chromium: a page served from another origin (another port) tries every request a browser
    sends without a CORS preflight — fetch no-cors with text/plain, a form post, a multipart form —
    then a JSON fetch (preflighted, never granted)."""
    db, _ = web_db
    target = f"http://127.0.0.1:{served}"
    page_html = f"""<!doctype html><html><body>
<form id="f1" method="post" action="{target}/api/feeds.opml" enctype="text/plain" target="sink">
  <input name='<?xml version' value='"1.0"?><opml version="2.0"><body><outline xmlUrl="https://evil.example/form.xml"/></body></opml>'>
</form>
<form id="f2" method="post" action="{target}/api/feeds.opml" target="sink2"><input name="x" value="1"></form>
<iframe name="sink"></iframe><iframe name="sink2"></iframe>
<script>
window.done = (async () => {{
  const opml = '<?xml version="1.0"?><opml version="2.0"><body><outline xmlUrl="https://evil.example/nocors.xml"/></body></opml>';
  try {{ await fetch('{target}/api/feeds.opml', {{method: 'POST', mode: 'no-cors', body: opml}}); }} catch (e) {{}}
  try {{ await fetch('{target}/api/feeds.opml', {{method: 'POST', mode: 'no-cors', body: new Blob([opml])}}); }} catch (e) {{}}
  const fd = new FormData(); fd.append('file', new Blob([opml]), 'f.opml');
  try {{ await fetch('{target}/api/feeds.opml', {{method: 'POST', mode: 'no-cors', body: fd}}); }} catch (e) {{}}
  try {{ await fetch('{target}/api/feeds', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
         body: JSON.stringify({{url: 'https://evil.example/json.xml'}})}}); }} catch (e) {{}}
  document.getElementById('f1').submit();
  document.getElementById('f2').submit();
  return true;
}})();
</script></body></html>"""
    _Attacker.page = page_html.encode()
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        before = feed_urls(db)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        page.evaluate("window.done")
        page.wait_for_timeout(1500)  # the form posts land in their iframes
        page.close()
        assert feed_urls(db) == before
    finally:
        attacker.shutdown()
        attacker.server_close()


def test_a_dns_rebinding_page_gets_nothing_in_chromium(served, browser):
    """Chromium resolves evil.test to 127.0.0.1, as a rebinding attacker's DNS would: to the browser
    the attacker's page and the API are then one origin, but the Host header says evil.test."""
    from ..conftest import CHROMIUM

    rebound = browser.browser_type.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--host-resolver-rules=MAP evil.test 127.0.0.1"])
    try:
        page = rebound.new_page()
        response = page.goto(f"http://evil.test:{served}/api/subscriptions")
        assert response.status == 421
        assert "does not answer to the host name" in page.content()
        assert page.goto(f"http://127.0.0.1:{served}/api/topics").status == 200  # the real name works
    finally:
        rebound.close()


# -- protected reads -------------------------------------------------------------------------------
ROUTES = ["/", "/feeds", "/subscriptions", "/search?q=gsomia", "/topics/gsomia", "/topics/gsomia.atom",
          "/metrics", "/docs", "/openapi.json", "/api/topics", "/api/matches", "/api/subscriptions",
          "/api/feeds", "/api/feeds.opml", "/api/stories", "/topics/new"]


def test_protect_reads_covers_every_route(make_client):
    client = make_client(api_token="s3cret-token", api_protect_reads=True)
    for route in ROUTES:
        response = client.get(route, follow_redirects=False)
        assert response.status_code in (401, 303), (route, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login")
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/docs/swagger-ui.css").status_code == 200
    bearer = {"Authorization": "Bearer s3cret-token"}
    for route in ROUTES:
        assert client.get(route, headers=bearer).status_code == 200, route
    # Every path the app serves is covered, not just the ones listed above.
    paths = {r.path for r in client.app.routes if hasattr(r, "methods") and "GET" in r.methods}
    open_paths = {"/healthz", "/login"}
    for path in paths - open_paths:
        concrete = path.replace("{slug}", "gsomia").replace("{story_id}", "1").replace("{feed_id}", "1")
        if "{" in concrete:
            continue
        assert client.get(concrete, follow_redirects=False).status_code in (401, 303), concrete


def test_login_cookie_and_secret_atom_url(make_client):
    client = make_client(api_token="s3cret-token", api_protect_reads=True)
    assert client.post("/login", data={"token": "wrong", "next": "/feeds"}).status_code == 401
    response = client.post("/login", data={"token": "s3cret-token", "next": "//evil.example/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"  # no open redirect
    cookie = response.cookies.get("followup_session")
    assert cookie and cookie != "s3cret-token" and "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()
    assert client.get("/subscriptions").status_code == 200  # the cookie is kept by the client
    topic = client.get("/topics/gsomia").text
    key = atom_key("s3cret-token", "gsomia")
    assert f"/topics/gsomia.atom?key={key}" in topic
    anonymous = make_client(api_token="s3cret-token", api_protect_reads=True)
    assert anonymous.get(f"/topics/gsomia.atom?key={key}").status_code == 200
    assert anonymous.get("/topics/forced-labor.atom?key=" + key).status_code == 401  # one topic's key only
    assert anonymous.get(f"/api/topics?key={key}").status_code == 401


def test_cookie_writes_still_need_the_same_origin(make_client):
    client = make_client(api_token="s3cret-token")
    client.post("/login", data={"token": "s3cret-token"})
    assert client.delete("/api/topics/gsomia", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.delete("/api/topics/gsomia", headers={"Origin": "http://testserver"}).status_code == 204


# -- request bodies ----------------------------------------------------------------------------------
def test_huge_bodies_are_refused_before_they_are_read(served, make_client):
    """A declared 300 MB body is refused at once; an undeclared (chunked) one is cut at the limit.
    The server's memory is read from its process (the test's own, where uvicorn runs in a thread)."""
    before = rss()
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    conn.putrequest("POST", "/api/feeds.opml")
    conn.putheader("Content-Type", "text/x-opml")
    conn.putheader("Content-Length", str(300 << 20))
    conn.endheaders()
    conn.send(b"x" * (1 << 20))  # the start of it; the answer comes without waiting for the rest
    response = conn.getresponse()
    assert response.status == 413
    conn.close()

    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=30)
    conn.putrequest("POST", "/api/feeds.opml")
    conn.putheader("Content-Type", "text/x-opml")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(60):  # 60 MB offered
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close as soon as it has answered
    assert conn.getresponse().status == 413
    conn.close()
    assert rss() - before < 40 << 20

    # Without a token the check still comes first: no route, no parsing.
    client = make_client(api_token="s3cret-token")
    response = client.post("/api/feeds", content=b"{}", headers={"Content-Type": "application/json",
                                                               "Content-Length": str(300 << 20)})
    assert response.status_code in (401, 413)


# -- /docs offline --------------------------------------------------------------------------------
def test_api_docs_render_offline_without_third_parties(served, browser):
    """Swagger UI's assets come from the pinned fastapi-offline package: the page renders with every
    request going to this server (the CDN version was a blank page offline)."""
    hosts = []
    page = browser.new_page()
    page.on("request", lambda request: hosts.append(request.url.split("/")[2]))
    page.goto(f"http://127.0.0.1:{served}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "Followup" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() >= 20  # the operations are listed
    page.close()
    assert set(hosts) == {f"127.0.0.1:{served}"}, set(hosts)
