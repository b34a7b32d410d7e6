"""Why an entry did or did not match a topic: the query tree with each clause's result. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from .compile import CompiledTopic
from .match import BODY_FIELDS, Document, _spans, evaluate
from .query import And, Near, Node, Not, Term


@dataclass
class Step:
    label: str
    result: bool
    detail: str = ""
    children: list["Step"] = field(default_factory=list)


def _term_detail(term: Term, doc: Document) -> str:
    where = [name for name in ((term.field,) if term.field else BODY_FIELDS) if _spans(term, doc, name)]
    return f"found in {', '.join(where)}" if where else "not found"


def trace(node: Node, doc: Document) -> Step:
    if isinstance(node, Term):
        result = evaluate(node, doc, None)
        return Step(node.label(), result, _term_detail(node, doc))
    if isinstance(node, Not):
        inner = trace(node.child, doc)
        return Step("NOT", not inner.result, "the excluded part is absent" if not inner.result else "the excluded part is present", [inner])
    if isinstance(node, Near):
        children = [trace(c, doc) for c in node.children]
        result = evaluate(node, doc, None)
        detail = "close enough" if result else (
            "not all parts are present" if not all(c.result for c in children) else f"present but more than {node.distance} words apart")
        return Step(f"NEAR/{node.distance}", result, detail, children)
    children = [trace(c, doc) for c in node.children]
    if isinstance(node, And):
        failed = sum(not c.result for c in children)
        return Step("ALL of", failed == 0, "" if failed == 0 else f"{failed} of {len(children)} parts missing", children)
    passed = sum(c.result for c in children)
    return Step("ANY of", passed > 0, f"{passed} of {len(children)} parts present" if passed else "none present", children)


@dataclass
class Explanation:
    matched: bool
    query: Step
    exclude: Step | None

    def lines(self) -> list[str]:
        out: list[str] = []

        def walk(step: Step, depth: int) -> None:
            mark = "✔" if step.result else "✘"
            out.append(f"{'  ' * depth}{mark} {step.label}" + (f" — {step.detail}" if step.detail else ""))
            # A long OR that matched: show only what matched, so the reason is readable.
            children = step.children
            if step.label == "ANY of" and step.result and len(children) > 6:
                hidden = len([c for c in children if not c.result])
                children = [c for c in children if c.result]
                for child in children:
                    walk(child, depth + 1)
                out.append(f"{'  ' * (depth + 1)}… {hidden} other alternatives not present")
                return
            if step.label == "ANY of" and not step.result and len(children) > 6:
                out.append(f"{'  ' * (depth + 1)}(none of {len(children)} alternatives: "
                           + ", ".join(c.label for c in children[:8]) + (", …)" if len(children) > 8 else ")"))
                return
            for child in children:
                walk(child, depth + 1)

        out.append("query:")
        walk(self.query, 1)
        if self.exclude is not None:
            out.append("exclude:" + (" (this entry is excluded)" if self.exclude.result else " (not triggered)"))
            walk(self.exclude, 1)
        return out


def explain(topic: CompiledTopic, doc: Document) -> Explanation:
    query = trace(topic.node, doc)
    exclude = trace(topic.exclude, doc) if topic.exclude is not None else None
    return Explanation(query.result and not (exclude and exclude.result), query, exclude)


def meaning_verdict(spec, topic: CompiledTopic, doc: Document, query_hit: bool):  # noqa: ANN001, ANN201
    """The meaning part of an explanation (None for a query-only topic)."""
    from .compile import matcher_for
    from .semantic import Verdict, decide

    if topic.meaning == "off":
        return None
    matcher = matcher_for([spec])
    closest = matcher.closest(topic.id, doc)
    if closest is None:
        return Verdict(topic.meaning, query_hit, None, topic.threshold, "", query_hit and topic.meaning != "only"
                       and topic.id not in matcher.profiles)
    value, text = closest
    return Verdict(topic.meaning, query_hit, value, topic.threshold, text, decide(topic.meaning, query_hit, value,
                                                                                  topic.threshold))


def why(spec, doc: Document) -> tuple[bool, list[str]]:  # noqa: ANN001 - a TopicSpec
    """Whether the topic matches the document, and why, as lines (the CLI's `topics explain` and the web's
    entry page): each clause of the query with its result, then the similarity for a topic with meaning."""
    from .compile import compile_topic

    topic = compile_topic(spec)
    result = explain(topic, doc) if topic.node is not None else None
    verdict = meaning_verdict(spec, topic, doc, result.matched if result else False)
    matched = verdict.matched if verdict else bool(result and result.matched)
    lines: list[str] = []
    if result is not None:
        if verdict:
            lines.append("By the query:")
        lines += result.lines()
    if verdict:
        lines.append(f"By meaning: {verdict.sentence()}")
    return matched, lines
