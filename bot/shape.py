"""What kind of answer a question wants, and how code evidence is put into words.

A how-to wants steps, a comparison wants trade-offs, a troubleshooting question wants the cause
and the fix, a cost or limits question wants figures, and a request for code wants a template.
The composer uses the shape to prefer sentences from sections in the matching role (the `kb/`
fixed sections, or any heading with those words in a foreign corpus). Points stay quoted
sentences; only a template's description is written by code, from the template itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.corpus import Corpus
from core.vocabulary import vocabulary

Kind = Literal["how_to", "compare", "troubleshoot", "what_is", "cost", "code", "other"]

_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("compare", re.compile(r"\b(vs\.?|versus|compare[ds]?|comparison|difference|differ|choose|choosing|pick|"
                           r"which (one|is better|should)|or should|better than|instead of|trade-?offs?|"
                           r"(the|any) catch|downsides?|drawbacks?|caveats?|pros and cons|give up)\b", re.I)),
    # "Standard or Express for ...?", "should we use Lambda or Fargate": a choice between two named
    # options (not "before we log or forward", a sequence of actions).
    ("compare", re.compile(r"^\W*(?!(?:before|after|when|if|while|because|once|as|we|i|you)\b)(?:[\w./-]+\s+){0,2}?"
                           r"[\w./-]+ or [\w./-]+|\b(?:use|using|choose|pick|go with|prefer|better|should (?:i|we)"
                           r"(?: use)?)\s+(?:an? |the )?[\w./-]+(?: [\w./-]+)? or ", re.I)),
    ("troubleshoot", re.compile(r"\b(why|error|errors|broken|stuck|not working|exception|debug\w*|"
                                r"troubleshoot\w*|5\d\d|4\d\d)\b", re.I)),
    ("cost", re.compile(r"\b(cost|costs|price|pricing|cheap\w*|expensive|bill\w*|spend\w*|limits?|quotas?|"
                        r"maximum|max|minimum|how (much|many|long|big|large)|default|cap|ceiling|longest|"
                        r"largest|biggest|up to|at most)\b", re.I)),
    ("how_to", re.compile(r"\b(how (do|can|should|to)|steps?|set ?up|configure|implement|enable|add|build|"
                          r"deploy|migrate|make)\b", re.I)),
    # Symptoms that also name a setting ("timeout", "throttling") or read as a condition ("if the
    # call fails, how do I...") come after limits and how-to: "What's the maximum timeout?" asks for a
    # figure, "How do I keep messages in order?" for steps, not a diagnosis.
    ("troubleshoot", re.compile(r"\b(timeout|timing out|throttl\w*|slow|slower|fails?|failing|failed|keeps|"
                                r"doesn't|don't|isn't|won't)\b", re.I)),
    ("what_is", re.compile(r"\b(what is|what's|what are|explain|meaning of|define|overview)\b", re.I)),
)
# A request for code, and the template languages a question names (data: kb/vocabulary.yaml).
CODE_INTENT = re.compile(r"\b(" + "|".join(vocabulary().code_intent) + r")\b", re.I)
_ROLE_WORDS: dict[Kind, tuple[str, ...]] = {
    "how_to": ("solution", "steps", "how", "implementation", "getting started", "setup", "set up", "usage",
               "configuration", "configure", "install"),
    "compare": ("trade-off", "tradeoff", "when to use", "comparison", "compare", "vs", "choosing", "alternatives",
                "decision", "differences"),
    "troubleshoot": ("problem", "troubleshoot", "pitfall", "mistake", "failure", "debug", "operational notes",
                     "gotcha", "limitations", "common issues"),
    "what_is": ("overview", "introduction", "summary", "problem", "context", "key features", "concepts"),
    "cost": ("cost", "pricing", "billing", "budget", "limits", "quotas", "comparison"),
    "code": ("template", "example", "getting started", "usage"),
    "other": (),
}
_FIGURE = re.compile(r"\$\s?\d|\d[\d,.]*\s?(%|ms|s\b|seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
                     r"[kmgt]i?b|bytes?|requests?|"
                     r"million|per|x\b)|\b\d{2,}\b", re.I)
LANGUAGE_HINTS = {language: "|".join(patterns) for language, patterns in vocabulary().language_hints.items()}


def hinted_languages(question: str) -> set[str]:
    """The template languages a question names, directly or through a tool ("SAM" means YAML)."""
    return {lang for lang, pattern in LANGUAGE_HINTS.items() if re.search(pattern, question, re.I)}


@dataclass(frozen=True)
class Shape:
    kind: Kind
    code: bool  # the question asks for a template, a handler, a config...


# A yes/no or why/where question that names code ("can an Express state machine wait two days?",
# "where should the handler get the tenant from?") asks about behaviour, unless it asks to be shown.
_ASKS_ABOUT = re.compile(r"^\W*(can|could|does|do|is|are|why|where|when|should|will|would)\b", re.I)
_CODE_REQUEST = re.compile(r"\b(" + "|".join(vocabulary().code_request) + r")\b", re.I)


def asks_to_be_shown(question: str) -> bool:
    """Whether the question asks in so many words for code ("show me", "write", "give me an example")."""
    return _CODE_REQUEST.search(question) is not None


def classify(question: str) -> Shape:
    kind: Kind = next((k for k, pattern in _KINDS if pattern.search(question)), "other")
    wants_code = asks_to_be_shown(question) or not _ASKS_ABOUT.search(question)
    code = wants_code and CODE_INTENT.search(question) is not None
    return Shape("code" if code and kind in ("how_to", "other", "what_is") else kind, code)


def role_bonus(shape: Shape, section: str) -> float:
    """1 when the section's own heading plays the role the question wants, 0.5 for an ancestor heading."""
    words = _ROLE_WORDS[shape.kind]
    if not words:
        return 0.0
    parts = [p.strip().lower() for p in section.split(" > ")]
    if any(w in parts[-1] for w in words):
        return 1.0
    return 0.5 if any(w in part for part in parts[:-1] for w in words) else 0.0


# Connecting words added by code in front of a quoted point, from the role of its section: the cause
# and the fix of a problem, the sides of a choice. The quote itself is never changed.
_LABELS: dict[Kind, tuple[tuple[str, str], ...]] = {
    "troubleshoot": (("problem", "Cause"), ("failure mode", "Cause"), ("pitfall", "Cause"), ("solution", "Fix"),
                     ("troubleshoot", "Fix")),
    "compare": (("when not to use", "When not to use"), ("when to use", "When to use"), ("trade-off", "Trade-off"),
                ("decision", "Rule of thumb")),
    "how_to": (("step", "Step"),),
    "cost": (("cost", "Cost"), ("pricing", "Cost")),
}


def label_for(shape: Shape, section: str) -> str:
    """The label a point from this section gets for this kind of question, or ""."""
    heading = section.split(" > ")[-1].strip().lower()
    return next((label for key, label in _LABELS.get(shape.kind, ()) if key in heading), "")


def shape_bonus(shape: Shape, sentence: str) -> float:
    """A cost or limits question is answered by figures."""
    return 1.0 if shape.kind == "cost" and _FIGURE.search(sentence) else 0.0


_RESOURCE_TYPE = re.compile(r"\b(?:Type:\s*|\"Type\":\s*\")((?:AWS|Custom)::[\w:]+)|^\s*resource\s+\"(\w+)\"", re.M)
_FUNCTION = re.compile(r"^\s*(?:export\s+)?(?:async\s+)?(?:def|function|func|class)\s+(\w+)|"
                       r"^\s*(?:export\s+)?const\s+(\w+)\s*=\s*(?:async\s*)?\(", re.M)
_COMMENT = re.compile(r"^\s*(?:#|//|--)\s?(.*)$")
_DECORATOR = re.compile(r"^\s*@([\w.]+)", re.M)


def leading_comment(code: str) -> str:
    """The comment lines a template starts with (shebangs and tool directives skipped)."""
    lines = []
    for line in code.split("\n"):
        match = _COMMENT.match(line)
        if not match:
            if line.strip():
                break
            continue
        text = match.group(1).strip()
        if text and not text.startswith(("!", "-*-", "noqa", "type:", "pylint", "eslint")):
            lines.append(text)
    return " ".join(lines)[:200]


def describe_template(corpus: Corpus, row: int) -> str:
    """One sentence saying what a template is, built only from its heading, language and code."""
    meta = corpus.metas[row]
    code = corpus.texts[row]
    heading = meta["section"].split(" > ")[-1].strip()
    origin = meta.get("origin") or ""
    name = origin.rsplit("/", 1)[-1] if origin else heading
    parts = [f"{name} ({meta['language'] or 'text'} template{', under ' + heading if origin else ''})"]
    comment = leading_comment(code)
    if comment:
        parts.append(comment.rstrip("."))
    types = _unique(a or b for a, b in _RESOURCE_TYPE.findall(code))
    functions = _unique(a or b for a, b in _FUNCTION.findall(code))
    decorators = _unique(_DECORATOR.findall(code))
    if types:
        parts.append("defines " + ", ".join(types[:6]))
    if functions:
        parts.append("functions " + ", ".join(functions[:5]))
    if decorators:
        parts.append("uses " + ", ".join("@" + d for d in decorators[:4]))
    return "; ".join(parts) + "."


def _unique(items: object) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:  # type: ignore[attr-defined]
        if item:
            seen.setdefault(str(item), None)
    return list(seen)
