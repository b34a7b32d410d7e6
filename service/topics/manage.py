"""Create and change topics: the checks and side effects the CLI and the API share.

A new topic is validated (slug, query, exclusion, aliases — a QueryError carries the position), refused
if the slug is taken, saved, and matched against the stored backlog; a changed query re-matches it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ..db import Database
from ..errors import AlreadyExistsError, InvalidInputError, QueryError
from ..feeds.refresh import match_backlog
from ..store import topics as topic_store
from .compile import TopicSpec, compile_topic
from .semantic import check_mode, clean_examples

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


# Slugs that name a page of the web UI under /topics/ (/topics/new is the new-topic form).
RESERVED_SLUGS = {"new", "test", "edit", "search"}


def check_slug(slug: str) -> str:
    if not SLUG.match(slug or ""):
        raise InvalidInputError(f"{slug!r} is not a valid slug: use lower-case letters, digits and dashes (e.g. japan-trade)")
    if slug in RESERVED_SLUGS:
        raise InvalidInputError(f"{slug!r} is reserved for a page of the web UI; choose another slug")
    return slug


def validate(slug: str, query: str, exclude: str | None, aliases: dict | None, *, meaning: str = "off",
             description: str = "", examples: tuple[str, ...] = (), similarity: float | None = None) -> None:
    """Compile the topic; raises QueryError (with the position) on a bad query or exclusion."""
    if not (query or "").strip() and meaning != "only":
        raise QueryError("The query is empty: say what to look for (see docs/queries.md), or let the "
                         "topic match by meaning alone (--meaning only, with a description or examples)")
    compile_topic(TopicSpec(0, slug, query or "", exclude, aliases or {}, meaning=meaning, description=description,
                            examples=examples, similarity=similarity))


def meaning_fields(meaning: str | None, examples: list[str] | tuple[str, ...] | None) -> dict:
    """The meaning mode and examples checked and cleaned (InvalidInputError with one sentence)."""
    out: dict = {}
    try:
        if meaning is not None:
            out["meaning"] = check_mode(meaning)
        if examples is not None:
            out["examples"] = clean_examples(examples)
    except ValueError as exc:
        raise InvalidInputError(f"The topic's {exc}") from exc
    return out


def slug_taken(db: Database, slug: str) -> bool:
    with db.read() as conn:
        return any(t.slug == slug for t in topic_store.list_topics(conn))


def create_topic(db: Database, slug: str, name: str, query: str, *, description: str = "", exclude: str | None = None,
                 aliases: dict | None = None, backlog: bool = True, meaning: str = "off",
                 examples: list[str] | tuple[str, ...] = (), similarity: float | None = None,
                 settings: Any = None) -> tuple[Any, int]:
    """Save a new topic and match the stored entries; returns (row, matches added). With the service's
    `settings`, the new matches are placed in global stories too (`place_stories`)."""
    check_slug(slug)
    fields = meaning_fields(meaning, examples)
    validate(slug, query, exclude, aliases, description=description, similarity=similarity, **fields)
    if slug_taken(db, slug):
        raise AlreadyExistsError(f"A topic with the slug {slug!r} already exists (use `followup topics edit {slug}`)")
    with db.write() as conn:
        row = topic_store.add_topic(conn, slug, name or slug, query or "", description=description, exclude=exclude,
                                    aliases=aliases, similarity=similarity, **fields)
    added = match_backlog(db, slug) if backlog else 0
    if added:
        place_stories(db, settings)
    return row, added


def place_stories(db: Database, settings: Any) -> int:
    """Place in global stories the entries matched since the last placement: with stories of matched
    entries only (the default scope), an entry a topic added or edited later matches has none, and `followup
    stories` (who else covered it) showed nothing after `ingest` then `topics add`. Polling does this before
    each cycle; a command that matches the backlog does it at once, for the entries older than the story
    window: a running worker keeps the live window's stories in memory and reads only entries stored after
    what it has seen, so the recent ones are left to it (it places them before its next poll). Best effort:
    the topic is saved whatever happens here. None for `settings` places nothing."""
    if settings is None or not settings.cluster_stories:
        return 0
    from datetime import timedelta

    from ..feeds.refresh import Pipeline
    from ..models import utcnow

    try:
        return Pipeline(db, settings).assign_missing_stories(
            before=utcnow() - timedelta(hours=settings.story_window_hours))
    except Exception:  # noqa: BLE001 - a busy database must not fail a saved topic; the next poll places them
        log.warning("placing the new matches in stories failed; the next poll places them", exc_info=True)
        return 0


def edit_topic(db: Database, slug: str, *, name: str | None = None, query: str | None = None,
               description: str | None = None, exclude: str | None = None, aliases: dict | None = None,
               active: bool | None = None, meaning: str | None = None, examples: list[str] | None = None,
               similarity: float | None = None, settings: Any = None) -> tuple[Any, int | None]:
    """Change a topic; `exclude=""` removes the exclusion. Returns (row, re-matched count or None). With the
    service's `settings`, new matches are placed in global stories (`place_stories`)."""
    with db.read() as conn:
        current = topic_store.get_topic(conn, slug)
    new_exclude = None if exclude is None else (exclude or "")
    fields = meaning_fields(meaning, examples)
    validate(slug, current.query if query is None else query,
             current.exclude if exclude is None else (exclude or None),
             aliases if aliases is not None else current.aliases,
             meaning=fields.get("meaning", current.meaning or "off"),
             description=current.description if description is None else description,
             examples=fields.get("examples", tuple(current.examples or ())),
             similarity=current.similarity if similarity is None else similarity)
    if "examples" in fields:
        fields["examples"] = list(fields["examples"])
    with db.write() as conn:
        row = topic_store.update_topic(conn, slug, name=name, query=query, description=description,
                                       exclude=new_exclude, aliases=aliases, active=active, similarity=similarity,
                                       **fields)
    rematched = None
    meaning_changed = fields or similarity is not None or (
        description is not None and (row.meaning or "off") != "off")
    if query is not None or exclude is not None or aliases is not None or meaning_changed:
        rematched = match_backlog(db, slug, replace=True)
        if rematched:
            place_stories(db, settings)
    return row, rematched
