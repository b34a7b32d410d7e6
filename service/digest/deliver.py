"""Delivery channels: SMTP email (multipart/alternative, text + HTML), webhook (JSON POST with a
Slack-compatible `text` field, retried with backoff), and a folder of dated files.

Each raises DeliveryError with one plain sentence; the runner records it and retries the run later.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..config import Settings
from ..errors import DeliveryError, InvalidInputError, PartialDeliveryError
from ..net import BlockedAddressError, check_url_host, sync_transport
from .build import Digest
from .render import render

USER_AGENT = "Followup digest (+https://github.com/followup)"


@dataclass(frozen=True)
class Delivered:
    channel: str
    target: str
    detail: str


def message_id(sub_id: int | None, period: str) -> str:
    """Stable per (subscription, period): a resend after a crash mid-send is recognisable as the same
    message by mail clients and servers that deduplicate on Message-ID."""
    return f"<digest-{sub_id or 'adhoc'}-{period}@followup>"


def build_email(digest: Digest, *, to: str, sender: str, sub_id: int | None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(digest.generated_at.timestamp(), localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(sub_id, digest.period) if sub_id else make_msgid(domain="followup")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render(digest, "text"))
    msg.add_alternative(render(digest, "html"), subtype="html")
    return msg


def send_email(settings: Settings, digest: Digest, to: str, sub_id: int | None = None,
               on_accepted: Callable[[], None] | None = None) -> Delivered:
    """Send through SMTP. `on_accepted` runs the moment the server answers 250 to DATA (the message is
    then the server's responsibility): the caller records the send there, so anything that goes wrong
    after it (a 421 or a dropped connection at QUIT, our own process killed) cannot send it again."""
    if not settings.smtp_host:
        raise DeliveryError("Email is not configured: set FOLLOWUP_SMTP_HOST (and _PORT, _TLS, _USER, _PASSWORD, _FROM)")
    msg = build_email(digest, to=to, sender=settings.smtp_from, sub_id=sub_id)
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    client = None
    try:
        if settings.smtp_tls == "ssl":
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password or "")
        refused = client.send_message(msg)  # returns once DATA got its 250
    except (smtplib.SMTPException, OSError) as exc:
        _close(client)
        raise DeliveryError(_smtp_failure(settings, to, exc)) from None
    if refused:  # some recipients refused, the message accepted for none of ours (one recipient)
        _close(client)
        raise DeliveryError(f"The mail server refused {', '.join(refused)}")
    if on_accepted is not None:
        on_accepted()
    detail = f"sent to {to} via {where}"
    try:
        code, reply = client.docmd("QUIT")
        if code != 221:
            detail += f" (warning: the server answered QUIT with {code} {reply.decode(errors='replace')[:80]})"
    except (smtplib.SMTPException, OSError) as exc:
        detail += f" (warning: the connection failed after the server accepted the message: {exc.__class__.__name__})"
    finally:
        _close(client)
    return Delivered("email", to, detail)


def _smtp_failure(settings: Settings, to: str, exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"The mail server {settings.smtp_host} refused the login for {settings.smtp_user}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"The mail server {settings.smtp_host} refused the address {to}"
    return f"Could not send mail through {settings.smtp_host}:{settings.smtp_port}: {exc.__class__.__name__}: {exc}"


def _close(client: smtplib.SMTP | None) -> None:
    if client is not None:
        try:
            client.close()
        except OSError:
            pass


def post_webhook(settings: Settings, digest: Digest, url: str, *, tries: int = 3, backoff: float = 1.0,
                 sleep=time.sleep) -> Delivered:  # noqa: ANN001
    """POST {"text": <Markdown digest>, "digest": <JSON digest>}; 5xx, 429 and network errors are retried
    `tries` times with exponential backoff, 4xx is final."""
    import json

    body = {"text": render(digest, "markdown"), "subject": digest.subject, "digest": json.loads(render(digest, "json"))}
    last = ""
    # The same SSRF guard as feeds, at the socket: a webhook on loopback, a private network or a cloud
    # metadata address is refused at every send (redirects are not followed).
    with httpx.Client(timeout=settings.webhook_timeout_seconds, headers={"User-Agent": USER_AGENT},
                      follow_redirects=False,
                      transport=sync_transport(allow_private=settings.allow_private_hosts)) as client:
        for attempt in range(tries):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            try:
                response = client.post(url, json=body)
            except BlockedAddressError as exc:
                raise DeliveryError(f"Webhook refused: {exc} (set FOLLOWUP_ALLOW_PRIVATE_HOSTS=true to allow)") from None
            except httpx.TimeoutException:
                last = f"the webhook {url} did not answer within {settings.webhook_timeout_seconds:g} s"
                continue
            except httpx.HTTPError as exc:
                last = f"the webhook {url} could not be reached ({exc.__class__.__name__})"
                continue
            if response.status_code < 300:
                return Delivered("webhook", url, f"HTTP {response.status_code} after {attempt + 1} attempt(s)")
            last = f"the webhook {url} answered HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break
    raise DeliveryError(f"Webhook failed: {last}")


def confined_folder(settings: Settings, target: str | Path) -> Path:
    """A delivery folder inside FOLLOWUP_DATA_DIR: relative names are taken from there, and nothing
    (`..`, an absolute path, a symlink) may lead outside it."""
    base = Path(settings.data_dir).resolve()
    folder = (base / Path(target)).resolve()
    if folder != base and base not in folder.parents:
        raise InvalidInputError(f"The folder {str(target)!r} is outside the data directory {base} "
                                "(FOLLOWUP_DATA_DIR): digests are written only inside it")
    return folder


def write_files(digest: Digest, folder: str | Path, sub_id: int | None = None) -> Delivered:
    """Write YYYY-MM-DD-digest[-N].html/.md/.json (and .txt) into `folder`, atomically."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{digest.period}-digest" + (f"-{sub_id}" if sub_id else "")
        written = []
        for fmt, ext in (("html", "html"), ("markdown", "md"), ("json", "json"), ("text", "txt")):
            path = folder / f"{stem}.{ext}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(render(digest, fmt), encoding="utf-8")
            tmp.replace(path)
            written.append(path.name)
    except OSError as exc:
        raise DeliveryError(f"Could not write the digest into {folder}: {exc.strerror or exc}") from None
    return Delivered("dir", str(folder), ", ".join(written))


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def validate_target(channel: str, target: str, settings: Settings) -> str:
    """The address, URL or folder a subscription delivers to, checked for its channel (webhooks against
    the SSRF guard, folders against the data directory)."""
    target = (target or "").strip()
    if channel == "email" and not _EMAIL.match(target):
        raise InvalidInputError(f"{target!r} is not an email address")
    if channel == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"{target!r} is not an http:// or https:// URL")
        try:
            check_url_host(target, allow_private=settings.allow_private_hosts)
        except BlockedAddressError as exc:
            raise InvalidInputError(f"Refused: {exc} (set FOLLOWUP_ALLOW_PRIVATE_HOSTS=true to allow)") from None
    if channel == "dir":
        if not target:
            raise InvalidInputError("The folder for --dir is empty")
        confined_folder(settings, target)
    if channel == "apprise":
        from ..alerts import check_alert_url

        return check_alert_url(target, settings)
    return target


def deliver(settings: Settings, digest: Digest, channel: str, target: str, sub_id: int | None = None,
            on_accepted: Callable[[], None] | None = None) -> Delivered:
    """Deliver one digest. `on_accepted` (email only) is called as soon as the server took the message."""
    if channel == "email":
        return send_email(settings, digest, target, sub_id, on_accepted=on_accepted)
    if channel == "webhook":
        return post_webhook(settings, digest, target)
    if channel == "dir":
        try:
            folder = confined_folder(settings, target)
        except InvalidInputError as exc:
            raise DeliveryError(str(exc)) from None
        return write_files(digest, folder, sub_id)
    if channel == "apprise":
        from ..alerts import push, redact

        try:
            push(target, digest.subject, render(digest, "text"), settings)
        except PartialDeliveryError as exc:  # sent to some targets: not sent again to them by a retry
            return Delivered("apprise", redact(target), str(exc))
        return Delivered("apprise", redact(target), "pushed")
    raise DeliveryError(f"Unknown delivery channel {channel!r}")
