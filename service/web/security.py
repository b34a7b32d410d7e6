"""One request policy for every route, applied before any route code runs (a pure ASGI middleware):

1. Host: the Host header must be an IP address or a name this server answers to (FOLLOWUP_ALLOWED_HOSTS,
   default the bound address, localhost names and FOLLOWUP_PUBLIC_URL's host). A DNS-rebinding page
   reaches us under its own name and gets 421.
2. Authentication: with FOLLOWUP_API_TOKEN set, writes need it; with FOLLOWUP_API_PROTECT_READS, every
   route does (pages, search, Atom, /metrics, /docs; /healthz and /login stay open). A browser logs in
   once at /login (an HttpOnly, SameSite=Strict cookie); a feed reader uses the topic's secret Atom URL
   (`?key=`, shown on the topic page to a logged-in user).
3. Cross-site writes: a write whose Origin (or Sec-Fetch-Site) says another site is refused, and a POST
   without an Authorization header must carry a content type a browser cannot send cross-site without a
   CORS preflight (JSON, XML) — which this server never grants. A text/plain, form or multipart POST
   from another origin's page never reaches a route.
4. Body size: Content-Length over the limit is 413 at once; a body without one is read up to the limit
   (only after the checks above) and 413 past it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from urllib.parse import parse_qs, urlsplit

from ..config import Settings

SESSION_COOKIE = "followup_session"
_SAFE = {"GET", "HEAD", "OPTIONS"}
_OPEN_PATHS = {"/healthz", "/login", "/logout"}
_OPEN_PREFIXES = ("/static/",)
# POST routes that only read (a backtest): they need the token only when reads are protected.
_READ_POSTS = {"/api/topics/test"}
_WRITE_TYPES = {"application/json", "application/xml", "text/xml", "text/x-opml", "application/octet-stream",
                "application/opml+xml"}
MAX_BODY_BYTES = 6 * 1024 * 1024  # an OPML import is the largest body (5 MB)


def session_value(token: str) -> str:
    """The login cookie: derived from the token, so the cookie is not the token itself."""
    return hmac.new(token.encode(), b"followup-session-v1", hashlib.sha256).hexdigest()


def atom_key(token: str, slug: str) -> str:
    """A topic's secret Atom URL key (feed readers cannot send headers or cookies)."""
    return hmac.new(token.encode(), f"atom:{slug}".encode(), hashlib.sha256).hexdigest()[:32]


def allowed_hosts(settings: Settings) -> set[str] | None:
    """The Host names this server answers to; None means any (FOLLOWUP_ALLOWED_HOSTS=*)."""
    configured = [h.strip().lower() for h in (settings.allowed_hosts or "").split(",") if h.strip()]
    if "*" in configured:
        return None
    hosts = {"localhost", "127.0.0.1", "::1", "[::1]"} | set(configured)
    bound = (settings.http_host or "").strip().lower()
    if bound and bound not in ("0.0.0.0", "::"):
        hosts.add(bound)
    if settings.public_url:
        public = urlsplit(settings.public_url).hostname
        if public:
            hosts.add(public.lower())
    return hosts


def _is_ip(host: str) -> bool:
    """An address typed as such (http://192.168.1.5:8080/): safe to answer, since a rebinding page can
    only ever send its own host *name*. This is what makes --host 0.0.0.0 reachable by address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def is_authorized(token: str | None, authorization: str, cookie_header: str) -> bool:
    """The bearer token, or the login cookie derived from it (no token configured: everyone)."""
    if not token:
        return True
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return True
    cookie = _cookies(cookie_header).get(SESSION_COOKIE)
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


class SecurityMiddleware:
    def __init__(self, app, settings: Settings, max_body_bytes: int = MAX_BODY_BYTES):  # noqa: ANN001
        self.app = app
        self.settings = settings
        self.max_body = max_body_bytes
        self.hosts = allowed_hosts(settings)

    async def __call__(self, scope, receive, send):  # noqa: ANN001, ANN204
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope["method"].upper()
        path = scope.get("path", "")
        host = _host_name(headers.get("host", ""))
        if self.hosts is not None and host not in self.hosts and not _is_ip(host):
            return await _refuse(send, 421, f"This server does not answer to the host name {host!r}: add it to "
                                            "FOLLOWUP_ALLOWED_HOSTS if it is yours")
        authorized = self._authorized(headers, scope)
        token = self.settings.api_token
        write = method not in _SAFE and path not in _READ_POSTS
        if token and path not in _OPEN_PATHS and not path.startswith(_OPEN_PREFIXES) and not authorized:
            needs = write or self.settings.api_protect_reads
            if needs and not (method in _SAFE and self._atom_key_ok(path, scope)):
                if method in _SAFE and "text/html" in headers.get("accept", "") and not path.startswith("/api"):
                    return await _redirect(send, f"/login?next={path}")
                return await _refuse(send, 401, "This needs the API token: send the header Authorization: Bearer "
                                                "<FOLLOWUP_API_TOKEN> (or log in at /login)",
                                     [(b"www-authenticate", b"Bearer")])
        if method not in _SAFE:
            problem = self._cross_site(headers, scope, method)
            if problem:
                return await _refuse(send, 403, problem)
        declared = headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > self.max_body):
            return await _refuse(send, 413, f"The request body is larger than the {self.max_body // 1024 // 1024} MB limit")
        if method in _SAFE or declared:  # the server holds the body to its declared length
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read it here, up to the limit, before any route sees it.
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                return await _refuse(send, 413, f"The request body is larger than the {self.max_body // 1024 // 1024} MB limit")
        replayed = False

        async def replay():  # noqa: ANN202
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    # -- checks ------------------------------------------------------------------------------------
    def _authorized(self, headers: dict, scope) -> bool:  # noqa: ANN001
        return is_authorized(self.settings.api_token, headers.get("authorization", ""), headers.get("cookie", ""))

    def _atom_key_ok(self, path: str, scope) -> bool:  # noqa: ANN001
        if not (path.startswith("/topics/") and path.endswith(".atom")):
            return False
        slug = path[len("/topics/"):-len(".atom")]
        key = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key", [""])[0]
        return bool(key) and hmac.compare_digest(key.encode(), atom_key(self.settings.api_token, slug).encode())

    def _cross_site(self, headers: dict, scope, method: str) -> str | None:  # noqa: ANN001
        origin = headers.get("origin")
        if origin and origin != "null":
            parts = urlsplit(origin)
            # The whole origin counts: another port of this host is another site.
            if parts.netloc.lower() != headers.get("host", "").lower() and not self._public_origin(origin):
                return f"Cross-site request refused (Origin {origin})"
        elif origin == "null":
            return "Cross-site request refused (Origin null)"
        if headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
            return "Cross-site request refused (Sec-Fetch-Site)"
        if method == "POST" and "authorization" not in headers and scope.get("path") != "/login":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            has_body = headers.get("content-length", "") not in ("", "0") or "transfer-encoding" in headers
            if kind not in _WRITE_TYPES and (kind or has_body):
                return (f"Writes take JSON (or XML for OPML), not {kind or 'an untyped body'}: a page on another "
                        "site can send that without asking")
        return None

    def _public_origin(self, origin: str) -> bool:
        public = self.settings.public_url
        if not public:
            return False
        a, b = urlsplit(origin), urlsplit(public)
        return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


async def _refuse(send, status: int, detail: str, extra: list | None = None) -> None:  # noqa: ANN001
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send, location: str) -> None:  # noqa: ANN001
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1", "replace")), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
