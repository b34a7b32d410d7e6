"""Delivery channels: SMTP email (multipart/alternative, text + HTML), webhook (JSON POST with a
Slack-compatible `text` field, retried with backoff), and a folder of dated files.

Each raises DeliveryError with one plain sentence; the runner records it and retries the run later.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..config import Settings
from ..errors import DeliveryError, InvalidInputError
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


def send_email(settings: Settings, digest: Digest, to: str, sub_id: int | None = None) -> Delivered:
    if not settings.smtp_host:
        raise DeliveryError("Email is not configured: set FOLLOWUP_SMTP_HOST (and _PORT, _TLS, _USER, _PASSWORD, _FROM)")
    msg = build_email(digest, to=to, sender=settings.smtp_from, sub_id=sub_id)
    try:
        if settings.smtp_tls == "ssl":
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        with client:
            if settings.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            refused = client.send_message(msg)
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError(f"The mail server {settings.smtp_host} refused the login for {settings.smtp_user}") from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError(f"The mail server {settings.smtp_host} refused the address {to}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"Could not send mail through {settings.smtp_host}:{settings.smtp_port}: "
                            f"{exc.__class__.__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"The mail server refused {', '.join(refused)}")
    return Delivered("email", to, f"sent to {to} via {settings.smtp_host}:{settings.smtp_port}")


def post_webhook(settings: Settings, digest: Digest, url: str, *, tries: int = 3, backoff: float = 1.0,
                 sleep=time.sleep) -> Delivered:  # noqa: ANN001
    """POST {"text": <Markdown digest>, "digest": <JSON digest>}; 5xx, 429 and network errors are retried
    `tries` times with exponential backoff, 4xx is final."""
    import json

    body = {"text": render(digest, "markdown"), "subject": digest.subject, "digest": json.loads(render(digest, "json"))}
    last = ""
    with httpx.Client(timeout=settings.webhook_timeout_seconds, headers={"User-Agent": USER_AGENT},
                      follow_redirects=False) as client:
        for attempt in range(tries):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            try:
                response = client.post(url, json=body)
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


def validate_target(channel: str, target: str) -> str:
    """The address, URL or folder a subscription delivers to, checked for its channel."""
    target = (target or "").strip()
    if channel == "email" and not _EMAIL.match(target):
        raise InvalidInputError(f"{target!r} is not an email address")
    if channel == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"{target!r} is not an http:// or https:// URL")
    if channel == "dir" and not target:
        raise InvalidInputError("The folder for --dir is empty")
    return target


def deliver(settings: Settings, digest: Digest, channel: str, target: str, sub_id: int | None = None) -> Delivered:
    if channel == "email":
        return send_email(settings, digest, target, sub_id)
    if channel == "webhook":
        return post_webhook(settings, digest, target)
    if channel == "dir":
        return write_files(digest, target, sub_id)
    raise DeliveryError(f"Unknown delivery channel {channel!r}")
