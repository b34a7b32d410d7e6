"""The topic query language: text -> AST, with errors that say where and what in plain words.

    word            whole word, case-insensitive            gsomia
    "a phrase"      words in this order                      "white list"
    prefix*         any word starting with it                sanction*
    a b / a AND b   both                                     japan korea
    a OR b          either                                   gsomia OR "intelligence pact"
    NOT a / -a      must not appear                          -china
    ( ... )         grouping                                 japan (curbs OR controls)
    a NEAR/n b      within n words of each other (n <= 50)   japan NEAR/5 korea
    title:x         only in the title (also summary:, source:) title:gsomia
Operators are case-insensitive; quote them to search for the word itself ("not").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import QueryError
from .text import fold, has_cjk, words

MAX_DEPTH = 32  # deeper nesting is never written by hand; refuse it before recursion gets expensive
MAX_TERMS = 500  # a topic is a watch list, not a dictionary; bounds matching cost per topic
MAX_NEAR = 50  # beyond ~50 words "near" means "in the same article"; use AND
MAX_QUERY_CHARS = 10_000
FIELDS = ("title", "summary", "source")


@dataclass(frozen=True)
class Term:
    """A word, phrase or prefix. `words` are folded; `text` is for display and CJK substring search."""

    words: tuple[str, ...]
    text: str
    prefix: bool = False
    field: str | None = None
    substring: bool = False  # CJK: match as a substring of the folded text

    def label(self) -> str:
        shown = self.text if len(self.words) <= 1 and not self.substring else f'"{self.text}"'
        if self.prefix:
            shown += "*"
        return f"{self.field}:{shown}" if self.field else shown


@dataclass(frozen=True)
class And:
    children: tuple
    def label(self) -> str: return "(" + " AND ".join(c.label() for c in self.children) + ")"


@dataclass(frozen=True)
class Or:
    children: tuple
    def label(self) -> str: return "(" + " OR ".join(c.label() for c in self.children) + ")"


@dataclass(frozen=True)
class Not:
    child: object
    def label(self) -> str: return "NOT " + self.child.label()


@dataclass(frozen=True)
class Near:
    children: tuple
    distance: int
    def label(self) -> str: return f" NEAR/{self.distance} ".join(c.label() for c in self.children)


Node = Term | And | Or | Not | Near


@dataclass
class _Token:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT MINUS NEAR FIELD
    value: str
    pos: int
    extra: int = 0  # NEAR distance


_NEAR = re.compile(r"near/(\d*)", re.I)
_SPECIAL = set('()"')


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            tokens.append(_Token("LPAREN", ch, i)); i += 1
        elif ch == ")":
            tokens.append(_Token("RPAREN", ch, i)); i += 1
        elif ch in '"\u201c\u201d':
            end = query.find('"', i + 1) if ch == '"' else min(
                (p for p in (query.find("\u201d", i + 1), query.find('"', i + 1)) if p != -1), default=-1)
            if end == -1:
                raise QueryError("This quote is never closed", i, query)
            phrase, start = query[i + 1:end], i
            i = end + 1
            if i < n and query[i] == "*":  # "export control"* means the same as "export control*"
                phrase += "*"
                i += 1
            tokens.append(_Token("PHRASE", phrase, start))
        elif ch == "-" and (i + 1 < n and not query[i + 1].isspace()) and (not tokens or query[i - 1].isspace() or query[i - 1] == "("):
            tokens.append(_Token("MINUS", ch, i)); i += 1
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in _SPECIAL:
                if query[i] == ":" and query[start:i].lower() in FIELDS:
                    break
                i += 1
            word = query[start:i]
            if i < n and query[i] == ":" and word.lower() in FIELDS:
                tokens.append(_Token("FIELD", word.lower(), start)); i += 1
                continue
            upper = word.upper()
            if upper in ("AND", "OR", "NOT"):
                tokens.append(_Token(upper, word, start))
            elif upper.startswith("NEAR/") or upper == "NEAR":
                m = _NEAR.fullmatch(word)
                if not m or not m.group(1):
                    raise QueryError("NEAR needs a distance, like NEAR/5", start, query)
                distance = int(m.group(1)) if len(m.group(1)) <= 6 else MAX_NEAR + 1
                if distance < 1:
                    raise QueryError("NEAR/0 is not a distance; use a phrase in quotes", start, query)
                if distance > MAX_NEAR:
                    raise QueryError(f"NEAR/{m.group(1)} is too far; the most is NEAR/{MAX_NEAR} (use AND for 'anywhere')", start, query)
                tokens.append(_Token("NEAR", word, start, distance))
            else:
                tokens.append(_Token("WORD", word, start))
    return tokens


class _Parser:
    def __init__(self, query: str, tokens: list[_Token]):
        self.query, self.tokens, self.i, self.terms = query, tokens, 0, 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def error(self, message: str, token: _Token | None = None) -> QueryError:
        pos = token.pos if token else len(self.query)
        return QueryError(message, pos, self.query)

    def parse(self) -> Node:
        node = self.or_expr(0)
        tok = self.peek()
        if tok is not None:
            if tok.kind == "RPAREN":
                raise self.error("This ) has no matching (", tok)
            raise self.error(f"Unexpected {tok.value!r}", tok)
        return node

    def or_expr(self, depth: int) -> Node:
        children = [self.and_expr(depth)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            if self.peek() is None or self.peek().kind in ("OR", "AND", "RPAREN"):
                raise self.error("OR needs something on its right", tok)
            children.append(self.and_expr(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int) -> Node:
        children = [self.unary(depth)]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RPAREN"):
            if tok.kind == "AND":
                self.i += 1
                if self.peek() is None or self.peek().kind in ("OR", "AND", "RPAREN"):
                    raise self.error("AND needs something on its right", tok)
            children.append(self.unary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, depth: int) -> Node:
        # A loop, not recursion: 1,200 chained NOTs hit Python's recursion limit (a 500). NOT NOT a is a.
        negations = 0
        while (tok := self.peek()) is not None and tok.kind in ("NOT", "MINUS"):
            self.i += 1
            if self.peek() is None or self.peek().kind in ("OR", "AND", "RPAREN"):
                raise self.error(f"{tok.value} needs something to exclude", tok)
            negations += 1
        node = self.near_expr(depth)
        return Not(node) if negations % 2 else node

    def near_expr(self, depth: int) -> Node:
        children = [self.primary(depth, None)]
        distance = None
        while (tok := self.peek()) is not None and tok.kind == "NEAR":
            self.i += 1
            if distance is not None and tok.extra != distance:
                raise self.error("Use one NEAR distance in a chain (or add parentheses)", tok)
            distance = tok.extra
            if self.peek() is None or self.peek().kind in ("OR", "AND", "RPAREN", "NEAR"):
                raise self.error("NEAR needs a word on each side", tok)
            children.append(self.primary(depth, None))
        if distance is None:
            return children[0]
        for child in children:
            if not isinstance(child, (Term, Or)) or (isinstance(child, Or) and not all(isinstance(c, Term) for c in child.children)):
                raise self.error("NEAR works between words, phrases or (a OR b) groups", tok)
        return Near(tuple(children), distance)

    def primary(self, depth: int, field: str | None) -> Node:
        if depth > MAX_DEPTH:
            raise self.error(f"The query is nested more than {MAX_DEPTH} levels deep", self.peek())
        tok = self.peek()
        if tok is None:
            raise self.error("The query ends where a word was expected")
        self.i += 1
        if tok.kind == "LPAREN":
            if self.peek() is not None and self.peek().kind == "RPAREN":
                raise self.error("Empty parentheses", tok)
            inner = self.or_expr(depth + 1)
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise self.error("This ( is never closed", tok)
            self.i += 1
            return _scope(inner, field) if field else inner
        if tok.kind == "FIELD":
            if field:
                raise self.error("A field scope cannot contain another field scope", tok)
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("WORD", "PHRASE", "LPAREN"):
                raise self.error(f"{tok.value}: needs a word, a phrase or parentheses right after it", tok)
            return self.primary(depth + 1, tok.value)
        if tok.kind in ("WORD", "PHRASE"):
            return self.term(tok, field)
        if tok.kind == "RPAREN":
            raise self.error("This ) has no matching (", tok)
        raise self.error(f"{tok.value} cannot start an expression here", tok)

    def term(self, tok: _Token, field: str | None) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"The query has more than {MAX_TERMS} terms; split it into several topics", tok)
        raw = tok.value.strip()
        prefix = raw.endswith("*")
        if prefix:
            raw = raw.rstrip("*")
            if "*" in raw:
                raise self.error("A * can only end a word", tok)
        elif "*" in raw:
            raise self.error("A * can only end a word", tok)
        if has_cjk(raw):
            if prefix:
                raise self.error("A * is not needed for Korean, Chinese or Japanese terms: they already match inside words", tok)
            text = " ".join(fold(raw).split())
            return Term(words=tuple(words(raw)), text=text, field=field, substring=True)
        folded = tuple(words(raw))
        if not folded:
            raise self.error("This term has no letters or digits to look for", tok)
        if prefix and len(folded[-1]) < 2:
            raise self.error("A prefix needs at least 2 letters before the *", tok)
        return Term(words=folded, text=" ".join(folded), prefix=prefix, field=field)


def _scope(node: Node, field: str) -> Node:
    if isinstance(node, Term):
        return Term(node.words, node.text, node.prefix, node.field or field, node.substring)
    if isinstance(node, Not):
        return Not(_scope(node.child, field))
    if isinstance(node, Near):
        return Near(tuple(_scope(c, field) for c in node.children), node.distance)
    return type(node)(tuple(_scope(c, field) for c in node.children))


def parse_query(query: str) -> Node:
    """Parse a query; raises QueryError with a position and a plain sentence when it is malformed."""
    if query is None or not query.strip():
        raise QueryError("The query is empty", 0, query or "")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS, query[:80])
    tokens = _lex(query)
    if not tokens:
        raise QueryError("The query is empty", 0, query)
    return _Parser(query, tokens).parse()


def iter_terms(node: Node, positive: bool = True):
    """(term, is_positive) for every term in the tree."""
    if isinstance(node, Term):
        yield node, positive
    elif isinstance(node, Not):
        yield from iter_terms(node.child, not positive)
    else:
        for child in node.children:
            yield from iter_terms(child, positive)
