"""The web part of Followup: the JSON API (/api, OpenAPI at /openapi.json, docs at /docs), the
server-rendered UI, an Atom feed per topic, /healthz and /metrics. `create_app()` is used by
`followup serve`, `followup run` (with the scheduler in the same event loop) and the tests."""

from __future__ import annotations

import hmac
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
import fastapi_offline
from prometheus_client import CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import metrics
from ..config import Settings
from ..db import Database
from ..errors import (
    AlreadyExistsError,
    DatabaseError,
    DeliveryError,
    FollowupError,
    InvalidInputError,
    NotFoundError,
    QueryError,
)
from ..models import utcnow
from ..store import developments as development_store
from ..store import digests as digest_store
from ..store import feeds as feed_store
from ..store import matches as match_store
from ..store import stats
from ..store import stories as story_store
from ..store import topics as topic_store
from ..stories.view import load_stories
from ..timeparse import parse_when
from . import api
from .atom import topic_atom
from .charts import volume_chart
from .health import problems
from .security import SESSION_COOKIE, SecurityMiddleware, atom_key, session_value

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def outlet_name(name: str | None) -> str:
    """An outlet as a reader knows it: a feed without a title is named by its site ("msn.com"), not its URL."""
    if name and name.startswith(("http://", "https://")):
        from urllib.parse import urlsplit

        host = (urlsplit(name).hostname or name).removeprefix("www.")
        return host
    return name or "?"


TEMPLATES.env.filters["outlet"] = outlet_name
STATUS = {NotFoundError: 404, AlreadyExistsError: 409, QueryError: 422, InvalidInputError: 400,
          DeliveryError: 502, DatabaseError: 503}


def create_app(settings: Settings, db: Database | None = None, service=None) -> FastAPI:  # noqa: ANN001
    app = FastAPI(title="Followup", version="0.1.0", docs_url=None, redoc_url=None,
                  description="News monitoring that tracks follow-up developments: topics, matches, stories, "
                              "digests and feeds. Errors are JSON with a `detail` sentence.")
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url)
    app.state.service = service  # the scheduler, when this process runs one (for /healthz)
    app.state.stored = CollectorRegistry(auto_describe=True)
    app.state.stored.register(metrics.StoredTotals(app.state.db))
    app.include_router(api.router)
    _errors(app)
    _system_routes(app)
    _docs(app)
    _login(app)
    _pages(app)
    return app


def _docs(app: FastAPI) -> None:
    """Swagger UI from assets in a pinned package (fastapi-offline), not a CDN: /docs works offline and
    the browser contacts no third party."""
    app.mount("/static/docs", StaticFiles(directory=str(Path(fastapi_offline.__file__).parent / "static")),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Followup API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/docs/favicon.png")


def _login(app: FastAPI) -> None:
    """With FOLLOWUP_API_TOKEN set, a browser logs in once with the token (an HttpOnly, SameSite=Strict
    cookie derived from it); the middleware accepts it like the bearer header."""

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
        return TEMPLATES.TemplateResponse(request, "login.html", {"next": _local(next), "error": None})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        settings = request.app.state.settings
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given, target = form.get("token", [""])[0], _local(form.get("next", ["/"])[0])
        if not settings.api_token or not hmac.compare_digest(given.encode(), settings.api_token.encode()):
            return TEMPLATES.TemplateResponse(request, "login.html", {"next": target, "error": "That is not the token."},
                                              status_code=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, session_value(settings.api_token), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=30 * 24 * 3600)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


def _local(target: str) -> str:
    """Only a path on this server is a place to go after logging in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _errors(app: FastAPI) -> None:
    @app.exception_handler(FollowupError)
    async def followup_error(request: Request, exc: FollowupError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        body = {"detail": str(exc)}
        if isinstance(exc, QueryError) and exc.position is not None:
            # `position` counts characters from 1, as the message does; `offset` from 0 (for a caret).
            body["position"] = exc.position + 1
            body["offset"] = exc.position
        if request.url.path.startswith("/api") or request.url.path.endswith(".atom") or \
                "application/json" in request.headers.get("accept", ""):
            return JSONResponse(body, status_code=status)
        return TEMPLATES.TemplateResponse(request, "error.html", {"message": str(exc), "status": status},
                                          status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"detail": f"Invalid {where or 'request'}: {first.get('msg', 'bad input')}",
                             "errors": _plain(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def _plain(errors: list) -> list:
    return [{k: (str(v) if k == "ctx" else v) for k, v in e.items() if k in ("loc", "msg", "type", "ctx")} for e in errors]


def _system_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["system"], summary="Database reachable, scheduler alive, last poll time")
    async def healthz(request: Request) -> JSONResponse:  # on the event loop: answers while the thread pool is busy
        db: Database = request.app.state.db
        body: dict = {"database": "ok"}
        try:
            db.ping()
            with db.read() as conn:
                last = stats.last_poll_at(conn)
            body["last_poll_at"] = last.isoformat() if last else None
        except Exception as exc:  # noqa: BLE001 - any driver error means the database is unreachable
            return JSONResponse({"database": f"unreachable: {str(exc).splitlines()[0]}", "status": "down"}, 503)
        service = request.app.state.service
        if service is None:
            body["scheduler"] = "not running in this process"
        else:
            tick = request.app.state.settings.scheduler_tick_seconds
            seen = service.last_poll_at or service.started_at
            alive = (utcnow() - seen).total_seconds() < max(3 * tick, 300)
            body["scheduler"] = "alive" if alive else "stalled"
            body["worker"] = service.owner
        with db.read() as conn:
            health = stats.feed_health(conn)
        body["feeds"] = {k: health[k] for k in ("total", "checked", "failing")}
        body["problems"] = problems(health)
        all_failing = health["checked"] > 0 and health["failing"] >= health["checked"]
        body["status"] = "degraded" if body.get("scheduler") == "stalled" or all_failing else "ok"
        return JSONResponse(body)

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def prometheus(request: Request) -> Response:
        body = generate_latest(metrics.REGISTRY) + generate_latest(request.app.state.stored)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/topics/{slug}.atom", tags=["feeds"], summary="Atom feed of a topic's new developments")
    def atom(request: Request, slug: str) -> Response:
        db: Database = request.app.state.db
        with db.read() as conn:
            topic = topic_store.get_topic(conn, slug)
        stories = load_stories(db, topic=slug, since=utcnow() - timedelta(days=30), until=None, limit=50)
        if not stories:  # a quiet month: show the latest developments rather than an empty feed
            stories = load_stories(db, topic=slug, since=None, until=None, limit=20)
        body = topic_atom(topic=topic, stories=stories, base_url=_base(request), now=utcnow())
        return Response(body, media_type="application/atom+xml; charset=utf-8")


def _base(request: Request) -> str:
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


# -- pages -------------------------------------------------------------------------------------
def _topic_summary(db: Database, slug: str, now) -> dict:  # noqa: ANN001
    with db.read() as conn:
        last = stats.latest_match_at(conn, slug)
    # The chart covers the 90 days up to now, or up to the topic's latest match when it has been quiet
    # for longer (an archive loaded from files).
    end = now if last is None or last > now - timedelta(days=90) else last + timedelta(days=1)
    start = (end - timedelta(days=90)).date()
    since = parse_when(start.isoformat())
    with db.read() as conn:
        per_day = story_store.topic_daily_counts(conn, slug, since, end)
    period = load_stories(db, topic=slug, since=since, until=end, limit=500)
    # New in the last 7 days / 24 h: the topic first matched them then (they are inside the 90 days).
    new_week = [s for s in period if s["topic_first_seen"] >= now - timedelta(days=7)]
    new_day = [s for s in new_week if s["topic_first_seen"] >= now - timedelta(days=1)]
    new_per_day = Counter(s["topic_first_seen"].date().isoformat() for s in period if s["status"] == "new")
    big = sorted((s for s in period if s["status"] == "new"), key=lambda s: -s["topic_outlets"])[:5]
    markers = [(s["topic_first_seen"].date(), f"{s['topic_headline']} ({s['topic_outlets']} outlets)")
               for s in big if s["topic_outlets"] >= 2]
    chart = volume_chart(start=start, days=90, entries=per_day, stories=dict(new_per_day), markers=markers,
                         label=f"{slug}: matched entries and new developments per day, {start} to {end.date()}")
    return dict(new_day=len(new_day), new_week=len(new_week), chart=chart, chart_start=start,
                chart_end=end.date(), last_match=last, big=big)


SEARCH_PAGE = 50


def _pages(app: FastAPI) -> None:
    def render(request: Request, name: str, **context) -> HTMLResponse:  # noqa: ANN003
        return TEMPLATES.TemplateResponse(request, name, context)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        db: Database = request.app.state.db
        now = utcnow()
        with db.read() as conn:
            topics = [(t, match_store.count_matches(conn, t.id)) for t in topic_store.list_topics(conn)]
        rows = [dict(topic=t, matches=n, **_topic_summary(db, t.slug, now)) for t, n in topics]
        with db.read() as conn:
            health = stats.feed_health(conn)
        return render(request, "home.html", rows=rows, now=now, problems=problems(health))

    @app.get("/topics/new", response_class=HTMLResponse, include_in_schema=False)
    def new_topic(request: Request) -> HTMLResponse:
        return render(request, "topic_form.html", topic=None)

    @app.get("/topics/{slug}", response_class=HTMLResponse, include_in_schema=False)
    def topic_page(request: Request, slug: str, q: str | None = None, since: str = "90d",
                   shown: Annotated[int, Query(ge=1, le=1000)] = 100) -> HTMLResponse:
        db: Database = request.app.state.db
        with db.read() as conn:
            topic = topic_store.get_topic(conn, slug)
            count = match_store.count_matches(conn, topic.id)
        now = utcnow()
        summary = _topic_summary(db, slug, now)
        since_at = parse_when(since)
        if summary["last_match"] and summary["chart_end"] < now.date() - timedelta(days=1):
            since_at = min(since_at, parse_when(summary["chart_start"].isoformat()))
        stories = load_stories(db, topic=slug, since=since_at, until=None, limit=shown)
        with db.read() as conn:  # how many the window holds: the page offers the older ones
            total, _ = development_store.count_developments(conn, topic.id, since=since_at, until=None)
        with db.read() as conn:
            read = development_store.read_developments(conn, topic.id, [s["id"] for s in stories])
        for s in stories:
            s["read"] = s["id"] in read
        results = None
        if q:
            with db.read() as conn:
                results = match_store.search_matches(conn, topic=slug, search=q, limit=50)
        token = request.app.state.settings.api_token
        atom_url = f"/topics/{slug}.atom" + (f"?key={atom_key(token, slug)}" if token and request.app.state.settings.api_protect_reads else "")
        from ..topics.learn import score_labels

        profile = dict(query=topic.query, exclude=topic.exclude, aliases=topic.aliases or {}, meaning=topic.meaning,
                       description=topic.description or "", examples=list(topic.examples or []),
                       similarity=topic.similarity)
        more = min(total, 1000) - len(stories)  # a page shows at most 1,000; past that, a narrower window
        return render(request, "topic.html", topic=topic, count=count, summary=summary, stories=stories, q=q or "",
                      total=total, more_url=f"/topics/{slug}?since={since_at:%Y-%m-%d}&shown={min(len(stories) + 100, 1000)}"
                      + (f"&q={quote(q)}" if q else "") if more > 0 else None,
                      results=results, since=since_at, atom_url=atom_url, labels=score_labels(db, slug),
                      profile=profile)

    @app.get("/topics/{slug}/developments/{development_id}", response_class=HTMLResponse, include_in_schema=False)
    def development_page(request: Request, slug: str, development_id: api.RowId) -> HTMLResponse:
        """One development: every matched entry (title, outlet, time, link), oldest first."""
        from ..stories.develop import headline_of

        db: Database = request.app.state.db
        with db.read() as conn:
            topic = topic_store.get_topic(conn, slug)
            members = development_store.development_entries(conn, topic.id, [development_id]).get(development_id, [])
        if not members:
            raise NotFoundError(f"No development {development_id} on topic {slug!r}")
        headline = headline_of(members).title
        outlets = Counter(outlet_name(e.feed) for e in members)
        return render(request, "development.html", topic=topic, headline=headline, entries=members,
                      outlets=outlets.most_common(), first=members[0].published_at, last=members[-1].published_at)

    @app.get("/entries/{entry_id}", response_class=HTMLResponse, include_in_schema=False)
    def entry_page(request: Request, entry_id: api.RowId) -> HTMLResponse:
        """One entry: its text, every feed it came through, the topics it matched and why."""
        from ..store import entries as entry_store
        from ..topics.explain import why
        from ..topics.learn import spec_of_row
        from ..topics.match import make_document

        db: Database = request.app.state.db
        with db.read() as conn:
            entry = entry_store.get_entry(conn, entry_id)
            feeds_ = entry_store.entry_feeds(conn, entry.id)
            matched = match_store.entry_matches(conn, entry.id)
        doc = make_document(entry.title, entry.summary, entry.source or "")
        topics_ = [dict(topic=m, why=why(spec_of_row(m), doc)[1]) for m in matched]
        with db.read() as conn:
            others = [t for t in topic_store.list_topics(conn) if t.id not in {m.id for m in matched}]
        return render(request, "entry.html", entry=entry, feeds=feeds_, topics=topics_, others=others)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search(request: Request, q: str = "", topic: str = "", cursor: str | None = None, start: int = 1,
               per: int = SEARCH_PAGE) -> HTMLResponse:
        db: Database = request.app.state.db
        results, next_cursor = None, None
        per = min(max(per, 10), 200)
        with db.read() as conn:
            topics = topic_store.list_topics(conn)
            if q:  # pages of `per`, newest first, by the same keyset cursor as /api/matches
                rows = match_store.search_matches(conn, topic=topic or None, search=q, limit=per + 1, cursor=cursor)
                results = rows[:per]
                if len(rows) > per:
                    next_cursor = match_store.encode_cursor(results[-1].published_at, results[-1].match_id)
        return render(request, "search.html", q=q, topic=topic, topics=topics, results=results,
                      next_cursor=next_cursor, start=max(1, start), paged=cursor is not None, per=per)

    @app.get("/feeds", response_class=HTMLResponse, include_in_schema=False)
    def feeds_page(request: Request) -> HTMLResponse:
        with request.app.state.db.read() as conn:
            feeds = feed_store.list_feeds(conn)
        paused = sum(1 for f in feeds if f.disabled_reason == feed_store.PAUSED)
        # a warning ("read with problems") is not a failure, and neither is a pause
        failing = sum(1 for f in feeds if f.disabled_reason != feed_store.PAUSED and (f.error_count or f.disabled_reason))
        return render(request, "feeds.html", feeds=feeds, failing=failing, paused=paused, paused_reason=feed_store.PAUSED)

    @app.get("/subscriptions", response_class=HTMLResponse, include_in_schema=False)
    def subscriptions_page(request: Request) -> HTMLResponse:
        from ..store import alerts as alert_store

        with request.app.state.db.read() as conn:
            subs = digest_store.list_subscriptions(conn)
            topics = topic_store.list_topics(conn)
            alerts = [api._alert(a) for a in alert_store.list_alerts(conn)]
        now = utcnow()
        return render(request, "subscriptions.html", subs=[api._subscription(s, now) for s in subs], topics=topics,
                      alerts=alerts)

    @app.get("/digests/archive", response_class=HTMLResponse, include_in_schema=False)
    def digest_archive(request: Request) -> HTMLResponse:
        with request.app.state.db.read() as conn:
            runs = digest_store.archive(conn)
        return render(request, "archive.html", runs=runs)

    @app.get("/digests/archive/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def archived_digest(request: Request, run_id: api.RowId) -> HTMLResponse:
        """A digest as it was sent (our own HTML rendering, its feed text escaped when it was made)."""
        with request.app.state.db.read() as conn:
            row = digest_store.archived(conn, run_id)
        return HTMLResponse(row.body_html)

    @app.get("/topics", include_in_schema=False)
    def topics_index() -> RedirectResponse:
        return RedirectResponse("/", status_code=307)
