"""Korean, Japanese and Chinese text in full-text search (issue 14): the index holds each run of these
scripts as its overlapping character pairs (service/topics/text.py index_text), so a search for 지소미아
finds "지소미아를" and 徴用工 finds "元徴用工による訴訟". SQLite: the FTS5 rows of entries holding such text are
written again through index_text. PostgreSQL: a function followup_index_text() computes the same pairs in
the generated search_vector column (rebuilt), and the matches' copies of it (0005) are refreshed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Frozen here as this revision wrote them (service/topics/text.py may change; this revision must not):
# the characters that make a text "CJK" (text.py _CJK) and those that form runs of pairs (_CJK_RUN, the
# same without the katakana middle dot, which is punctuation).
DETECT_RANGES = (("\u3040", "\u30ff"), ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uac00", "\ud7af"),
                 ("\u1100", "\u11ff"), ("\u3130", "\u318f"), ("\uf900", "\ufaff"))
RANGES = (("\u3040", "\u30fa"), ("\u30fc", "\u30ff")) + DETECT_RANGES[1:]
DETECT = "".join(f"{a}-{b}" for a, b in DETECT_RANGES)
CLASS = "".join(f"{a}-{b}" for a, b in RANGES)
_DETECT = re.compile(f"[{DETECT}]")
_RUN = re.compile(f"[{CLASS}]+")


def index_text(text):  # noqa: ANN001, ANN201 - service/topics/text.py index_text as of this revision
    if not text or not _DETECT.search(text):
        return text

    def pairs(match):  # noqa: ANN001, ANN202
        run = match.group()
        return f" {run} " if len(run) == 1 else " " + " ".join(run[i:i + 2] for i in range(len(run) - 1)) + " "

    return _RUN.sub(pairs, unicodedata.normalize("NFKC", text))

FUNCTION = f"""
CREATE OR REPLACE FUNCTION followup_index_text(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
    result text := '';
    piece text;
    n int;
BEGIN
    IF t !~ '[{DETECT}]' THEN
        RETURN t;
    END IF;
    FOR piece IN SELECT m[1] FROM regexp_matches(normalize(t, NFKC), '([{CLASS}]+|[^{CLASS}]+)', 'g') AS m LOOP
        IF piece ~ '^[{CLASS}]' THEN
            n := char_length(piece);
            IF n = 1 THEN
                result := result || ' ' || piece || ' ';
            ELSE
                FOR i IN 1..n - 1 LOOP
                    result := result || ' ' || substr(piece, i, 2);
                END LOOP;
                result := result || ' ';
            END IF;
        ELSE
            result := result || piece;
        END IF;
    END LOOP;
    RETURN result;
END
$fn$
"""


def _vector(wrap: bool) -> str:
    def part(column: str, weight: str) -> str:
        folded = f"regexp_replace(coalesce({column}, ''), '[^[:alnum:]]+', ' ', 'g')"
        inner = f"followup_index_text({folded})" if wrap else folded
        return f"setweight(to_tsvector('simple', {inner}), '{weight}')"
    return f"{part('title', 'A')} || {part('summary', 'B')}"


def _rebuild_pg_column(wrap: bool) -> None:
    op.execute("ALTER TABLE entries DROP COLUMN search_vector")  # drops ix_entries_search with it
    op.execute(f"ALTER TABLE entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({_vector(wrap)}) STORED")
    op.execute("CREATE INDEX ix_entries_search ON entries USING gin (search_vector)")
    op.execute("UPDATE matches SET search_vector = entries.search_vector FROM entries "
               f"WHERE entries.id = matches.entry_id AND (entries.title ~ '[{DETECT}]' OR entries.summary ~ '[{DETECT}]')")


def _reindex_sqlite(old, new) -> None:  # noqa: ANN001 - functions text -> text
    """Write the FTS5 rows of entries with these scripts again: 'delete' with what was indexed, then insert."""
    bind = op.get_bind()
    pattern = f"*[{DETECT}]*"
    rows = bind.execute(sa.text("SELECT id, title, summary FROM entries WHERE title GLOB :p OR summary GLOB :p"),
                        {"p": pattern}).all()
    if not rows:
        return
    bind.execute(sa.text("INSERT INTO entries_fts(entries_fts, rowid, title, summary) VALUES ('delete', :id, :t, :s)"),
                 [{"id": r.id, "t": old(r.title), "s": old(r.summary)} for r in rows])
    bind.execute(sa.text("INSERT INTO entries_fts(rowid, title, summary) VALUES (:id, :t, :s)"),
                 [{"id": r.id, "t": new(r.title), "s": new(r.summary)} for r in rows])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _reindex_sqlite(lambda t: t, index_text)
    else:
        op.execute(FUNCTION)
        _rebuild_pg_column(wrap=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _reindex_sqlite(index_text, lambda t: t)
    else:
        _rebuild_pg_column(wrap=False)
        op.execute("DROP FUNCTION IF EXISTS followup_index_text(text)")
