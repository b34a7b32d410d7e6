"""Instant alerts through Apprise (one URL for ntfy, Telegram, Slack, Matrix, Discord, Gotify, Pushover, a
JSON webhook, …): after each poll cycle, each alert pushes the developments that are new on its topic (or
on any topic), or that have reached its number of outlets. A development is pushed once per alert: the
log row is written before the push (at most once; a push that fails is taken back and tried next cycle).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import Settings
from .db import Database
from .errors import DeliveryError, InvalidInputError, PartialDeliveryError
from .models import utcnow
from .net import BlockedAddressError, check_url_host, guarded_sockets
from .store import alerts as alert_store
from .store import topics as topic_store

log = logging.getLogger(__name__)

TRIGGERS = ("new", "outlets")
RECENT = timedelta(days=2)  # older news arriving now (a backfill, a late feed) is not "new"
# Apprise schemes whose host is wherever the user points it (a self-hosted server), even a one-word name.
SELF_HOSTED = {"json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "gotify", "gotifys", "matrix",
               "matrixs", "mmost", "mmosts", "rocket", "rockets", "apprise", "apprises", "ncloud", "nclouds",
               "nctalk", "nctalks", "mastodon", "mastodons", "misskey", "misskeys", "signal", "signals", "hassio",
               "hassios", "kodi", "kodis", "xbmc", "xbmcs", "rsyslog", "syslog", "bark", "barks", "synology",
               "synologys", "smseagle", "smseagles", "lametric", "lametrics", "emby", "embys", "mqtt", "mqtts"}


def check_alert_url(url: str, settings: Settings) -> str:
    """An Apprise URL that Apprise understands and that does not point into a private network (unless
    FOLLOWUP_ALLOW_PRIVATE_HOSTS); raises InvalidInputError with one sentence.

    Every address the notifier would connect to is checked like a feed's host: the URL's host when it is
    an address (an IP, localhost, a dotted name) or the scheme is a self-hosted service, and an email
    notifier's SMTP server. A cloud service's "host" that is an id or token (Telegram's bot id, Slack's
    team) is not an address and is not resolved. The check runs at add time and again before every push;
    the notifiers' own TCP connections are guarded too (`net.guarded_sockets`: an address that changes
    between this check and the send, DNS rebinding, is refused); syslog's UDP has only this check."""
    import apprise

    url = (url or "").strip()
    if not url:
        raise InvalidInputError("The notification URL is empty (e.g. ntfy://my-topic or tgram://bot-token/chat-id)")
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise InvalidInputError(f"{redact(url)} is not a notification URL Apprise knows "
                                "(see https://github.com/caronc/apprise/wiki)")
    scheme = url.split("://", 1)[0].lower()
    hosts = []
    host = getattr(plugin, "host", None)
    if host and (scheme in SELF_HOSTED or _is_address(host)):
        hosts.append((host, getattr(plugin, "port", None)))
    smtp = getattr(plugin, "smtp_host", None)
    if smtp:
        hosts.append((smtp, getattr(plugin, "port", None)))
    for name, port in hosts:
        try:
            check_url_host(f"http://{_bracket(name)}" + (f":{port}" if port else "") + "/",
                           allow_private=settings.allow_private_hosts)
        except (BlockedAddressError, ValueError) as exc:
            raise InvalidInputError(f"Refused: {exc} (set FOLLOWUP_ALLOW_PRIVATE_HOSTS=true to allow)") from None
    return url


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return host.lower() == "localhost" or "." in host


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def redact(url: str) -> str:
    """An Apprise URL carries tokens: it is shown by its scheme only (API, CLI, web, messages)."""
    return url.split("://", 1)[0] + "://…" if "://" in url else "the URL"


def shown_target(channel: str, target: str) -> str:
    """A subscription's target as shown: an Apprise URL redacted, an address, webhook or folder as is."""
    return redact(target) if channel == "apprise" else target


def describe(alert) -> dict:  # noqa: ANN001 - a row of store.alerts
    """An alert as the CLI and the API show it."""
    return dict(id=alert.id, url=redact(alert.url), topic=alert.topic or "all", trigger=alert.trigger,
                min_outlets=alert.min_outlets, paused=alert.paused, last_sent_at=alert.last_sent_at,
                last_error=alert.last_error)


def _per_target(plugin) -> list:  # noqa: ANN001
    """One notifier per target of a URL with several (a Telegram bot to two chats, an email to two
    addresses): Apprise reports one result for a URL, so a retry after one target failed reached every
    target again. A plugin that keeps its targets elsewhere is sent as one."""
    import copy

    targets = getattr(plugin, "targets", None)
    if not isinstance(targets, list) or len(targets) < 2 or len(plugin) != len(targets):
        return [plugin]
    parts = []
    for target in targets:
        one = copy.copy(plugin)
        one.targets = [target]
        parts.append(one)
    return parts


def push(url: str, title: str, body: str, settings: Settings) -> None:
    """Send one notification; DeliveryError with Apprise's reason when it fails, PartialDeliveryError
    when it reached some of the URL's targets and not the others (it is not to be sent again)."""
    import apprise

    check_alert_url(url, settings)
    parts = _per_target(apprise.Apprise.instantiate(url))
    failed = 0
    with apprise.LogCapture(level=logging.WARNING) as captured, guarded_sockets(allow_private=settings.allow_private_hosts):
        for part in parts:
            notifier = apprise.Apprise()
            notifier.add(part)
            if not notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
                failed += 1
    if not failed:
        return
    reason = " ".join(captured.getvalue().split())[:300] or "no reason given"
    if failed < len(parts):
        raise PartialDeliveryError(f"The notification to {redact(url)} reached {len(parts) - failed} of its "
                                   f"{len(parts)} targets: {reason}")
    raise DeliveryError(f"The notification to {redact(url)} failed: {reason}")


@dataclass(frozen=True)
class Pushed:
    alert_id: int
    topic: str
    development_id: int
    ok: bool
    detail: str


def message(topic_name: str, slug: str, trigger: str, headline: str, row, settings: Settings,  # noqa: ANN001
            link: str | None = None) -> tuple[str, str]:
    """Title and text of one alert."""
    if trigger == "new":
        title = f"New on {topic_name}: {headline}"
    else:
        title = f"{row.outlets} outlets on {topic_name}: {headline}"
    from .store._sql import aware

    first = aware(row.first)
    lines = [headline, f"{first:%Y-%m-%d %H:%M} UTC · {row.outlets} outlet{'s' if row.outlets != 1 else ''} · "
                       f"{row.entries} entr{'ies' if row.entries != 1 else 'y'}"]
    if link and link.startswith(("http://", "https://")):
        lines.append(link)  # the report that heads the development
    if settings.public_url:
        lines.append(f"All its reports: {settings.public_url.rstrip('/')}/topics/{slug}/developments/{row.development_id}")
    return title[:250], "\n".join(lines)


class AlertService:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    def tick(self, now: datetime | None = None) -> list[Pushed]:
        """Push what is due for every active alert; one failing alert does not stop the others."""
        from .store import developments as development_store
        from .stories.develop import headline_of

        now = now or utcnow()
        done: list[Pushed] = []
        with self.db.read() as conn:
            active = alert_store.list_alerts(conn, active_only=True)
            names = {t.id: t for t in topic_store.list_topics(conn)}
        for alert in active:
            with self.db.read() as conn:
                due = alert_store.candidates(conn, alert, since=now - RECENT)
            for row in due:
                topic = names.get(row.topic_id)
                if topic is None:
                    continue
                with self.db.write() as conn:
                    if not alert_store.claim(conn, alert.id, row.topic_id, row.development_id, now):
                        continue
                    members = development_store.development_entries(conn, row.topic_id, [row.development_id])
                head = headline_of(members.get(row.development_id, []))
                title, body = message(topic.name, topic.slug, alert.trigger, head.title if head else "(untitled)", row,
                                      self.settings, head.url if head else None)
                try:
                    push(alert.url, title, body, self.settings)
                except PartialDeliveryError as exc:  # sent to some targets: kept as sent, not repeated to them
                    with self.db.write() as conn:
                        alert_store.record(conn, alert.id, sent_at=utcnow(), error=str(exc))
                    done.append(Pushed(alert.id, topic.slug, row.development_id, False, str(exc)))
                    continue
                except (DeliveryError, InvalidInputError) as exc:
                    with self.db.write() as conn:
                        alert_store.release(conn, alert.id, row.development_id)
                        alert_store.record(conn, alert.id, error=str(exc))
                    done.append(Pushed(alert.id, topic.slug, row.development_id, False, str(exc)))
                    break  # this alert's target is failing: the rest waits for the next cycle
                with self.db.write() as conn:
                    alert_store.record(conn, alert.id, sent_at=utcnow())
                done.append(Pushed(alert.id, topic.slug, row.development_id, True, title))
        return done
