"""followup topics add | list | show | edit | remove."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..errors import AlreadyExistsError, InvalidInputError
from ..store import matches as match_store
from ..store import topics as topic_store
from ..topics import manage
from ..topics.compile import TopicSpec
from .app import DbOption, check_format, command, emit, open_context, out, per_mark, spark_width, sparkline, topics_app

MeaningOption = Annotated[
    str | None,
    typer.Option("--meaning", help="Match by meaning too (needs the `meaning` extra): off (the query alone), "
                                   "guard (query required, similarity checked), boost (similarity, or query + a "
                                   "lower similarity), only (similarity alone; the query may be empty).")]
ExampleOption = Annotated[
    list[str] | None,
    typer.Option("--example", help="An example item (a headline, or headline and text) the topic is about. "
                                   "Repeatable; with --meaning, entries are compared with these.")]
SimilarityOption = Annotated[
    float | None,
    typer.Option("--similarity", min=0.05, max=0.95, help="The similarity an entry needs (default 0.60).")]

AliasOption = Annotated[
    list[str] | None,
    typer.Option("--alias", help='A synonym group NAME=SYN1|SYN2, used wherever NAME appears in the query. '
                                 'Repeatable. Example: --alias "gsomia=General Security of Military Information Agreement|지소미아"'),
]


def _aliases(values: list[str] | None) -> dict[str, list[str]] | None:
    if not values:
        return None
    out_: dict[str, list[str]] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        synonyms = [s.strip() for s in rest.split("|") if s.strip()]
        if not sep or not name.strip() or not synonyms:
            raise InvalidInputError(f"--alias {value!r} should look like NAME=SYNONYM1|SYNONYM2")
        out_[name.strip()] = synonyms
    return out_


@topics_app.command("add")
@command
def add(slug: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits and dashes.")],
        query: Annotated[str, typer.Option(help="What to look for (see docs/queries.md); '' with --meaning only.")],
        name: Annotated[str, typer.Option(help="A readable name (default: the slug).")] = "",
        db: DbOption = None,
        meaning: MeaningOption = None, example: ExampleOption = None, similarity: SimilarityOption = None,
        description: Annotated[str, typer.Option(help="What this topic is and is not about.")] = "",
        exclude: Annotated[str | None, typer.Option(help="Entries matching this query are never matched.")] = None,
        alias: AliasOption = None,
        backlog: Annotated[bool, typer.Option(help="Also match the entries already stored.")] = True,
        preview: Annotated[bool, typer.Option(help="Show what the query would have matched in the last 30 days first.")] = True) -> None:
    """Add a topic: preview it on the last 30 days, save it, and match the stored backlog against it.

    Example: followup topics add gsomia --name "GSOMIA" --query 'gsomia OR "intelligence sharing" (japan korea)'
    """
    manage.check_slug(slug)
    name = name.strip() or slug
    aliases = _aliases(alias)
    fields = manage.meaning_fields(meaning or "off", example or [])
    manage.validate(slug, query, exclude, aliases, description=description, similarity=similarity, **fields)
    ctx = open_context(db)
    if manage.slug_taken(ctx.db, slug):  # refused before any backtest work
        raise AlreadyExistsError(f"A topic with the slug {slug!r} already exists (use `followup topics edit {slug}`)")
    if preview:
        from ..timeparse import parse_when
        from ..topics.backtest import backtest

        since_at = parse_when("30d")
        spec = TopicSpec(0, slug, query, exclude, aliases or {}, name=name, description=description,
                         similarity=similarity, **fields)
        result = backtest(ctx.db, spec, since_at)
        if result.scanned == 0:  # nothing stored from the last 30 days (an archive): preview on all of it
            since_at = None
            result = backtest(ctx.db, spec, None)
        _print_backtest(result, since_at, 5)
    _, added = manage.create_topic(ctx.db, slug, name, query, description=description, exclude=exclude,
                                   aliases=aliases, backlog=backlog, similarity=similarity, settings=ctx.settings,
                                   **fields)
    out.print(f"Added topic {slug}.", markup=False)
    if backlog:
        out.print(f"Matched {added} of all stored entries (any date).")


@topics_app.command("list")
@command
def list_(db: DbOption = None,
          fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table") -> None:
    """List topics with their match counts.

    Example: followup topics list
    """
    check_format(fmt)
    ctx = open_context(db)
    with ctx.db.read() as conn:
        rows = [dict(slug=t.slug, name=t.name, active=t.active, matches=match_store.count_matches(conn, t.id),
                     query=t.query, exclude=t.exclude, description=t.description, aliases=t.aliases or {})
                for t in topic_store.list_topics(conn)]

    def table(items: list[dict]) -> None:
        t = Table("slug", "name", "matches", "active", box=None, pad_edge=False)
        for d in items:
            t.add_row(d["slug"], d["name"], str(d["matches"]), "yes" if d["active"] else "no")
        out.print(t)

    emit(rows, fmt, table)


@topics_app.command("show")
@command
def show(slug: str, db: DbOption = None) -> None:
    """Show a topic: its description, query, exclusion, aliases and match count.

    Example: followup topics show gsomia
    """
    ctx = open_context(db)
    with ctx.db.read() as conn:
        t = topic_store.get_topic(conn, slug)
        count = match_store.count_matches(conn, t.id)
    out.print(f"{t.slug}: {t.name}{'' if t.active else ' (inactive)'}", markup=False)
    if t.description:
        out.print(f"  {t.description}", markup=False)
    out.print(f"  query:   {' '.join(t.query.split())}", markup=False)
    if t.exclude:
        out.print(f"  exclude: {t.exclude}", markup=False)
    for name, synonyms in (t.aliases or {}).items():
        out.print(f"  alias:   {name} = {' | '.join(synonyms)}", markup=False)
    if (t.meaning or "off") != "off":
        from ..topics.semantic import SIMILARITY

        out.print(f"  meaning: {t.meaning}, similarity at least {t.similarity or SIMILARITY:.2f} to the description "
                  f"or one of {len(t.examples or [])} examples", markup=False)
        for text in t.examples or []:
            out.print(f"  example: {text[:110]}", markup=False)
    out.print(f"  matches: {count}")
    from ..topics.learn import score_labels

    scored = score_labels(ctx.db, slug)
    if scored is not None:
        out.print(f"  labels:  {scored.sentence()}", markup=False)


@topics_app.command("edit")
@command
def edit(slug: str, db: DbOption = None,
         name: Annotated[str | None, typer.Option(help="New name.")] = None,
         query: Annotated[str | None, typer.Option(help="New query; stored matches are recomputed.")] = None,
         description: Annotated[str | None, typer.Option(help="New description.")] = None,
         exclude: Annotated[str | None, typer.Option(help="New exclusion query ('' removes it).")] = None,
         alias: AliasOption = None,
         meaning: MeaningOption = None,
         example: Annotated[list[str] | None, typer.Option("--example", help="Add an example item (repeatable).")] = None,
         clear_examples: Annotated[bool, typer.Option("--clear-examples", help="Remove the topic's examples first.")] = False,
         similarity: SimilarityOption = None,
         active: Annotated[bool | None, typer.Option("--active/--inactive", help="Pause or resume matching.")] = None) -> None:
    """Change a topic. A new query or exclusion re-matches the stored entries.

    Example: followup topics edit gsomia --query 'gsomia OR "intelligence-sharing pact"'
    """
    ctx = open_context(db)
    examples = None
    if example or clear_examples:
        with ctx.db.read() as conn:
            current = [] if clear_examples else list(topic_store.get_topic(conn, slug).examples or [])
        examples = current + list(example or [])
    _, rematched = manage.edit_topic(ctx.db, slug, name=name, query=query, description=description, exclude=exclude,
                                     aliases=_aliases(alias), active=active, meaning=meaning, examples=examples,
                                     similarity=similarity, settings=ctx.settings)
    out.print(f"Updated topic {slug}.", markup=False)
    if rematched is not None:
        out.print(f"Re-matched stored entries: {rematched} matches.")


@topics_app.command("remove")
@command
def remove(slug: str, db: DbOption = None) -> None:
    """Remove a topic and its matches (the entries stay).

    Example: followup topics remove gsomia
    """
    ctx = open_context(db)
    with ctx.db.write() as conn:
        topic_store.remove_topic(conn, slug)
    out.print(f"Removed topic {slug}.", markup=False)


def _print_backtest(result, since_at, limit: int, *, show_days: bool = True) -> None:  # noqa: ANN001
    from ..models import utcnow

    today = utcnow().date()
    days = result.days(since_at.date() if since_at else None, today)
    window = f"since {since_at:%Y-%m-%d}" if since_at else "in all stored entries"
    out.print(f"Would have matched {result.total} of {result.scanned} entries {window}.", markup=False)
    if result.total and show_days and days:
        busiest = max(days, key=lambda d: d[1])
        width = spark_width(len("  per 99 days mm-dd  mm-dd   (busiest yyyy-mm-dd: 99999)"))
        step = per_mark(len(days), width)
        unit = "day" if step == 1 else f"{step} days"
        out.print(f"  per {unit} {days[0][0]:%m-%d} {sparkline([n for _, n in days], width)} {days[-1][0]:%m-%d}"
                  f"   (busiest {busiest[0]:%Y-%m-%d}: {busiest[1]})", markup=False)
    top = result.top(limit)
    if top:
        t = Table("published", "score", "title", "source", "why", box=None, pad_edge=False)
        for h in top:
            t.add_row(f"{h.published_at:%Y-%m-%d}", f"{h.score:g}", h.title[:90], (h.source or "")[:24], ", ".join(h.terms[:5]))
        out.print(t)
    for heading, rows in (("Near misses (look like the topic, not matched):", result.near_misses),
                          ("Unlike matches (matched, look unlike it):", result.unlike)):
        if rows:
            out.print(heading, markup=False)
            t = Table("entry", "published", "similarity", "title", box=None, pad_edge=False)
            for x in rows[:limit]:
                t.add_row(str(x.entry_id), f"{x.published_at:%Y-%m-%d}", f"{x.similarity:.2f}", x.title[:90])
            out.print(t)
    if result.other_forms:
        forms = result.other_forms.most_common()
        shown = ", ".join(f"{form} ({n})" for form, n in forms[:5]) + (f" and {len(forms) - 5} more" if len(forms) > 5 else "")
        form = forms[0][0]
        word = result.query_word[form]
        fix = f"{word}* finds {form}" if form.startswith(word) else f"{word} OR {form}"
        out.print(f"Not matched because a word is in another form: {shown}. A word matches only itself; "
                  f"write the other form too ({fix}).", markup=False)
    if result.measured and (result.near_misses or result.unlike):
        out.print("Fix one in a step: `followup topics explain SLUG ENTRY` says why; add an --example, adjust the "
                  "query, or let meaning decide with --meaning boost.", markup=False)


@topics_app.command("test")
@command
def test(query: Annotated[str, typer.Argument(help="The query to try (see docs/queries.md).")], db: DbOption = None,
         since: Annotated[str | None, typer.Option(help="Only entries published since: an age (30d) or a date; default all.")] = "30d",
         limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of the top matches to show.")] = 10,
         exclude: Annotated[str | None, typer.Option(help="An exclusion query to try with it.")] = None,
         alias: AliasOption = None,
         description: Annotated[str, typer.Option(help="What the topic is about: near misses are measured by it.")] = "",
         meaning: MeaningOption = None, example: ExampleOption = None, similarity: SimilarityOption = None,
         fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table") -> None:
    """Backtest a query on stored entries before saving it: matches per day, top matches and why.

    Example: followup topics test 'gsomia OR "intelligence sharing" (japan korea)' --since 90d
    """
    from ..timeparse import parse_when
    from ..topics.backtest import backtest

    check_format(fmt, ("table", "json"))
    ctx = open_context(db)
    since_at = parse_when(since) if since and since != "all" else None
    fields = manage.meaning_fields(meaning or "off", example or [])
    result = backtest(ctx.db, TopicSpec(0, "test", query, exclude, _aliases(alias) or {}, description=description,
                                        similarity=similarity, **fields), since_at)
    if fmt == "json":
        emit([result.to_dict(limit)], "json", lambda _: None)
        return
    _print_backtest(result, since_at, limit)


@topics_app.command("explain")
@command
def explain_(slug: str, entry: Annotated[str, typer.Argument(help="Entry id, GUID or URL.")], db: DbOption = None) -> None:
    """Why an entry did or did not match a topic: each clause of the query with its result.

    Example: followup topics explain gsomia 1234
    """
    from ..store import entries as entry_store
    from ..topics.explain import why
    from ..topics.match import make_document

    ctx = open_context(db)
    with ctx.db.read() as conn:
        t = topic_store.get_topic(conn, slug)
        row = entry_store.get_entry(conn, entry)
    spec = TopicSpec(t.id, t.slug, t.query, t.exclude, t.aliases or {}, meaning=t.meaning or "off", name=t.name,
                     description=t.description or "", examples=tuple(t.examples or ()), similarity=t.similarity)
    out.print(f"Entry {row.id}: {row.title}", markup=False)
    out.print(f"  {row.url or row.guid or ''} ({row.source or 'unknown source'}, {row.published_at:%Y-%m-%d})", markup=False)
    matched, lines = why(spec, make_document(row.title, row.summary, row.source or ""))
    out.print(f"It {'MATCHES' if matched else 'does NOT match'} topic {slug}.", markup=False)
    for line in lines:
        out.print(line, markup=False)


@topics_app.command("suggest")
@command
def suggest_(source: Annotated[str, typer.Argument(help="An article: a local file (text or HTML) or an http(s) URL.")],
             db: DbOption = None,
             limit: Annotated[int, typer.Option(min=1, max=50, help="How many candidates to show.")] = 10,
             add: Annotated[str | None, typer.Option(help="Add these candidates as topics, e.g. --add 1,3.")] = None) -> None:
    """Propose topics from an article: key phrases with scores and queries (YAKE + TF-IDF on stored entries).

    Example: followup topics suggest ../shared/seed/article-teaser.txt --add 2
    """
    from pathlib import Path

    from ..feeds.fetch import fetch_once
    from ..store import entries as entry_store
    from ..topics.suggest import article_text, suggest

    ctx = open_context(db)
    if source.startswith(("http://", "https://")):
        fetched = fetch_once(source, ctx.settings)
        if fetched.error:
            raise InvalidInputError(f"Could not fetch {source}: {fetched.error}")
        text = article_text(fetched.body, fetched.content_type)
    else:
        try:
            text = article_text(Path(source).read_bytes())
        except OSError as exc:
            raise InvalidInputError(f"Cannot read {source}: {exc.strerror}") from exc
    if len(text.split()) < 20:
        raise InvalidInputError("The article has too little text to suggest topics from (fewer than 20 words)")
    with ctx.db.read() as conn:
        total = entry_store.count_entries(conn)

        def doc_freq(phrase: str) -> int:
            return match_store.count_entries_matching(conn, f'"{phrase}"')

        candidates = suggest(text, limit=limit, total_docs=total, doc_freq=doc_freq)
        counts = [doc_freq(c.phrase) if total else 0 for c in candidates]
    method = "YAKE + TF-IDF against your stored entries" if total >= 1000 else \
        f"YAKE (only {total} stored entries: too few for TF-IDF; ingest or poll more for better suggestions)"
    out.print(f"Candidate topics from {source} — {method}:", markup=False)
    t = Table("#", "score", "phrase", "stored", "suggested query", box=None, pad_edge=False)
    for n, (c, count) in enumerate(zip(candidates, counts), 1):
        t.add_row(str(n), f"{c.score:.2f}", c.phrase, str(count), c.query)
    out.print(t)
    if add:
        try:
            picks = sorted({int(x) for x in add.split(",") if x.strip()})
        except ValueError:
            raise InvalidInputError(f"--add {add!r} should be candidate numbers like 1,3") from None
        for n in picks:
            if not 1 <= n <= len(candidates):
                raise InvalidInputError(f"There is no candidate {n} (1–{len(candidates)})")
        for n in picks:
            c = candidates[n - 1]
            _, added = manage.create_topic(ctx.db, c.slug, c.phrase.title(), c.query,
                                           description=f"Suggested from {source}", settings=ctx.settings)
            out.print(f"Added topic {c.slug} (query {c.query}); matched {added} stored entries.", markup=False)
    else:
        out.print("Add one with `--add N`, or refine it first with `followup topics test QUERY`.")


@topics_app.command("label")
@command
def label_(slug: str, entry: Annotated[str, typer.Argument(help="Entry id (as `matches` shows), GUID or URL.")],
           db: DbOption = None,
           relevant: Annotated[bool, typer.Option("--relevant/--not-relevant",
                                                  help="Whether the entry belongs to the topic.")] = True) -> None:
    """Tell a topic an entry is (not) relevant: shown as precision/recall on your labels, used by `topics learn`.

    Example: followup topics label gsomia 1234 --not-relevant
    """
    from ..topics.learn import label, score_labels

    ctx = open_context(db)
    entry_id, title = label(ctx.db, slug, entry, relevant)
    out.print(f"Labelled entry {entry_id} {'relevant' if relevant else 'not relevant'} to {slug}: {title[:90]}",
              markup=False)
    scored = score_labels(ctx.db, slug)
    if scored is not None:
        out.print(f"The topic as saved, {scored.sentence()}.", markup=False)


@topics_app.command("learn")
@command
def learn_(slug: str, db: DbOption = None, meaning: MeaningOption = None,
           save: Annotated[bool, typer.Option("--apply", help="Save what was learned and re-match.")] = False) -> None:
    """Learn from your labels: relevant entries become examples, the similarity is refit (each example left out of its own score); before/after.

    Example: followup topics learn svb --apply
    """
    from ..topics.learn import apply, learn

    ctx = open_context(db)
    lesson = learn(ctx.db, slug, meaning)
    out.print(f"Before: meaning {lesson.before_mode}, {lesson.before.sentence()}.", markup=False)
    out.print(f"After:  meaning {lesson.spec.meaning}, similarity {lesson.spec.similarity:.2f}, "
              f"{len(lesson.added_examples)} examples added, {lesson.after.sentence()} "
              "(fit on these labels, so optimistic).", markup=False)
    if save:
        rematched = apply(ctx.db, lesson, ctx.settings)
        out.print(f"Saved; re-matched stored entries: {rematched} matches.", markup=False)
    else:
        out.print(f"Nothing saved: run `followup topics learn {slug} --apply` to keep it.", markup=False)

