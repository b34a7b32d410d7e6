"""Instant alerts through Apprise (one URL for ntfy, Telegram, Slack, Matrix, Discord, Gotify, Pushover, a
JSON webhook, …): after each poll cycle, each alert pushes the developments that are new on its topic (or
on any topic), or that have reached its number of outlets. A development is pushed once per alert: the
log row is written before the push (at most once; a push that fails is taken back and tried next cycle).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import Settings
from .db import Database
from .errors import DeliveryError, InvalidInputError, PartialDeliveryError
from .models import utcnow
from .net import BlockedAddressError, check_url_host, guarded_sockets
from .store import alerts as alert_store
from .store import topics as topic_store
from .store._sql import aware

log = logging.getLogger(__name__)

TRIGGERS = ("new", "outlets")
RECENT = timedelta(days=2)  # older news arriving now (a backfill, a late feed) is not "new"
# A target that failed while the URL's others were reached is tried again alone after 5 minutes, then
# 10, 20, … (six tries over about five hours), then given up (the alert's last error says so).
RETRY_FIRST = timedelta(minutes=5)
RETRIES = 6
RETRY_LEASE = timedelta(minutes=10)  # a retry taken by one process is not taken by another meanwhile
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


def push(url: str, title: str, body: str, settings: Settings, targets: Collection[int] | None = None) -> None:
    """Send one notification; DeliveryError with Apprise's reason when it fails, PartialDeliveryError
    (with the positions of the targets that failed) when it reached some of the URL's targets and not the
    others (it is not to be sent again to those). `targets`: only these of the URL's targets (a retry)."""
    import apprise

    check_alert_url(url, settings)
    parts = _per_target(apprise.Apprise.instantiate(url))
    chosen = [i for i in range(len(parts)) if targets is None or i in targets]
    if targets is not None and len(chosen) != len(set(targets)):
        raise DeliveryError(f"The notification to {redact(url)} has {len(parts)} targets, not the ones to try "
                            "again; nothing was sent")
    failed: list[int] = []
    with apprise.LogCapture(level=logging.WARNING) as captured, guarded_sockets(allow_private=settings.allow_private_hosts):
        for i in chosen:
            notifier = apprise.Apprise()
            notifier.add(parts[i])
            if not notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
                failed.append(i)
    if not failed:
        return
    reason = " ".join(captured.getvalue().split())[:300] or "no reason given"
    if targets is not None:
        raise PartialDeliveryError(f"The notification to {redact(url)} failed again for {len(failed)} of the "
                                   f"{len(chosen)} targets tried again: {reason}", tuple(failed))
    if len(failed) < len(chosen):
        raise PartialDeliveryError(f"The notification to {redact(url)} reached {len(parts) - len(failed)} of its "
                                   f"{len(parts)} targets: {reason}", tuple(failed))
    raise DeliveryError(f"The notification to {redact(url)} failed: {reason}")


def _backoff(tries: int) -> timedelta:
    """How long after its `tries`-th failed try a target is tried again."""
    return RETRY_FIRST * 2 ** tries


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _failure(exc: Exception, what: str) -> str:
    """One sentence for a failed push: the delivery's own reason, or what else went wrong."""
    if isinstance(exc, (DeliveryError, InvalidInputError)):
        return str(exc)
    return f"The {what} failed: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Pushed:
    alert_id: int
    topic: str
    development_id: int
    ok: bool
    detail: str
    then: str = "Will try again after the next poll."  # what happens next when it failed


def message(topic_name: str, slug: str, trigger: str, headline: str, row, settings: Settings,  # noqa: ANN001
            link: str | None = None) -> tuple[str, str]:
    """Title and text of one alert."""
    if trigger == "new":
        title = f"New on {topic_name}: {headline}"
    else:
        title = f"{row.outlets} outlets on {topic_name}: {headline}"
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
        """Push what is due for every active alert; one failing alert does not stop the others. Targets
        that failed while the rest of their URL's were reached are tried again first, when due."""
        now = now or utcnow()
        done: list[Pushed] = []
        with self.db.read() as conn:
            active = alert_store.list_alerts(conn, active_only=True)
            names = {t.id: t for t in topic_store.list_topics(conn)}
        for alert in active:
            done += self._retry(alert, names, now)
            with self.db.read() as conn:
                due = alert_store.candidates(conn, alert, since=now - RECENT)
            for row in due:
                topic = names.get(row.topic_id)
                if topic is None:
                    continue
                with self.db.write() as conn:
                    if not alert_store.claim(conn, alert.id, row.topic_id, row.development_id, now):
                        continue
                try:
                    title, body = self._message(alert, topic, row)
                    push(alert.url, title, body, self.settings)
                except PartialDeliveryError as exc:  # sent to some targets: kept as sent, not repeated to them
                    with self.db.write() as conn:
                        alert_store.record(conn, alert.id, sent_at=utcnow(), error=str(exc))
                        alert_store.set_retry(conn, alert.id, row.development_id, list(exc.failed), retries=0,
                                              retry_at=now + _backoff(0))
                    done.append(Pushed(alert.id, topic.slug, row.development_id, False, str(exc),
                                       f"The targets that failed are tried again in {_minutes(_backoff(0))} minutes."))
                    continue
                except Exception as exc:  # noqa: BLE001 - refused, or a notifier's own failure: tried again next cycle
                    error = _failure(exc, "push")
                    with self.db.write() as conn:
                        alert_store.release(conn, alert.id, row.development_id)
                        alert_store.record(conn, alert.id, error=error)
                    done.append(Pushed(alert.id, topic.slug, row.development_id, False, error))
                    break  # this alert's target is failing: the rest waits for the next cycle
                with self.db.write() as conn:
                    alert_store.record(conn, alert.id, sent_at=utcnow())
                done.append(Pushed(alert.id, topic.slug, row.development_id, True, title))
        return done

    def _message(self, alert, topic, row) -> tuple[str, str]:  # noqa: ANN001
        from .store import developments as development_store
        from .stories.develop import headline_of

        with self.db.read() as conn:
            members = development_store.development_entries(conn, row.topic_id, [row.development_id])
        head = headline_of(members.get(row.development_id, []))
        return message(topic.name, topic.slug, alert.trigger, head.title if head else "(untitled)", row,
                       self.settings, head.url if head else None)

    def _retry(self, alert, names: dict, now: datetime) -> list[Pushed]:  # noqa: ANN001
        """Send due developments to the targets that failed them, alone; back off while they fail, and give
        up after RETRIES tries, on a retry older than RECENT (an alert paused meanwhile), or when its
        development is gone (the alert's last error says so). Anything a try raises counts as a failed try."""
        done: list[Pushed] = []
        with self.db.read() as conn:
            due = alert_store.retries_due(conn, alert.id, now)
        for retry in due:
            lease = max(now, utcnow()) + RETRY_LEASE  # a tick can outlast a lease taken from its start
            with self.db.write() as conn:
                if not alert_store.claim_retry(conn, retry, alert.id, lease):
                    continue  # another process has it
                row = alert_store.development_row(conn, retry.topic_id, retry.development_id)
            topic = names.get(retry.topic_id)
            targets = [int(t) for t in (retry.retry_targets or "").split(",") if t.strip().isdigit()]
            stale = aware(retry.sent_at) < now - RECENT
            if row is None or topic is None or not targets or stale:
                reason = ("it is older than two days (the alert was paused)" if stale else
                          "its development is gone (merged into another, or its topic removed)")
                error = f"Gave up on {len(targets)} target{'s' if len(targets) != 1 else ''} of a development: {reason}."
                with self.db.write() as conn:
                    if alert_store.set_retry(conn, alert.id, retry.development_id, None, retries=retry.retries,
                                             retry_at=None, leased=lease):
                        alert_store.record(conn, alert.id, error=error)
                continue
            try:
                title, body = self._message(alert, topic, row)
                push(alert.url, title, body, self.settings, targets=targets)
            except Exception as exc:  # noqa: BLE001 - a try that failed, whatever failed in it
                still = list(getattr(exc, "failed", ())) or targets
                tries = retry.retries + 1
                gave_up = tries >= RETRIES
                error = _failure(exc, "retry")
                error += f" Gave up on {len(still)} of its targets after {tries} tries." if gave_up else ""
                with self.db.write() as conn:
                    if alert_store.set_retry(conn, alert.id, retry.development_id, None if gave_up else still,
                                             retries=tries, retry_at=now + _backoff(tries), leased=lease):
                        alert_store.record(conn, alert.id, error=error)
                done.append(Pushed(alert.id, topic.slug, retry.development_id, False, error,
                                   "" if gave_up else
                                   f"Will try those targets again in {_minutes(_backoff(tries))} minutes."))
                continue
            with self.db.write() as conn:
                alert_store.set_retry(conn, alert.id, retry.development_id, None, retries=retry.retries + 1,
                                      retry_at=None, leased=lease)
                alert_store.record(conn, alert.id, sent_at=utcnow())
            done.append(Pushed(alert.id, topic.slug, retry.development_id, True, title))
        return done
