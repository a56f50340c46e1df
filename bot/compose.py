"""Extractive answers: the retrieved sentences that best answer the question, each with its [n].

Deterministic and offline: sentences are scored by semantic similarity (vectors pooled at ingest),
term overlap and the rank of their chunk, chosen with a redundancy penalty (MMR), tidied lightly
and cited. Templates come verbatim from the knowledge base; the disclaimer comes from the persona.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.answer import Answer, Citation, Template
from bot.corpus import Corpus
from bot.persona import Persona
from bot.retrieve import Hit, Retrieval
from bot.text import term_set, words
from ingest.settings import AnswerSettings

MMR_LAMBDA = 0.75
NEAR_DUPLICATE = 0.92
STOP_RATIO = 0.7  # after the minimum, stop at points scoring under this share of the best
TEMPLATE_MARGIN = 0.1
_TEMPLATE_INTENT = re.compile(
    r"\b(templates?|examples?|snippets?|code|yaml|yml|json|terraform|hcl|sam|cloudformation|cdk|serverless\.yml|"
    r"polic(y|ies)|handler|state machine|asl|workflow file|script|config(uration)?|sample|show me|write)\b", re.I)
_LANGUAGE_HINTS = {
    "hcl": r"terraform|\bhcl\b|\btf\b", "yaml": r"\bsam\b|cloudformation|yaml|yml|serverless\.yml|github actions",
    "python": r"python|boto3|pytest", "typescript": r"typescript|\bts\b|\bcdk\b|node",
    "javascript": r"javascript|\bjs\b|node|k6|worker", "json": r"\basl\b|state machine|json|iam polic",
    "bash": r"bash|shell|\bcli\b|script",
}


@dataclass(frozen=True)
class Point:
    sentence: int  # row in corpus.sentences
    hit: Hit
    score: float
    text: str


def tidy(text: str) -> str:
    """Light cleanup of a quoted sentence or bullet; never changes its meaning."""
    text = re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", text)
    text = re.sub(r"\s*\n\s*", " ", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images become their text
    text = re.sub(r"\s*\[\d+\]", "", text)  # citation-like markers in the source would mislead
    text = text.strip().rstrip(":;,").strip()
    if not text:
        return text
    if text[-1] not in ".!?)`\"'":
        text += "."
    return text[0].upper() + text[1:]


class Composer:
    def __init__(self, corpus: Corpus, persona: Persona, settings: AnswerSettings) -> None:
        self.corpus = corpus
        self.persona = persona
        self.settings = settings

    def compose(self, question: str, retrieval: Retrieval) -> Answer:
        return self.assemble(question, retrieval, [(p.text, p.hit) for p in self.choose_points(question, retrieval)])

    def assemble(self, question: str, retrieval: Retrieval, chosen: list[tuple[str, Hit]]) -> Answer:
        """Number citations by first use, attach templates verbatim and the disclaimer."""
        points = [Point(-1, hit, 0.0, text) for text, hit in chosen]
        templates = self.choose_templates(question, retrieval, {p.hit.row for p in points})
        numbers: dict[int, int] = {}
        for row in [p.hit.row for p in points] + [h.row for h in templates]:
            numbers.setdefault(row, len(numbers) + 1)
        hits = {h.row: h for h in retrieval.hits}
        citations = [self._citation(n, hits[row]) for row, n in numbers.items()]
        rendered_points = [f"{p.text} [{numbers[p.hit.row]}]" for p in points]
        rendered_templates = [self._template(numbers[h.row], h.row) for h in templates]
        disclaimer = self.persona.disclaimer(question, *[p.text for p in points],
                                             *[t.section + " " + t.code for t in rendered_templates])
        markdown = render_markdown(rendered_points, rendered_templates, citations, disclaimer)
        return Answer(question=question, answer=markdown, abstained=False, citations=citations,
                      templates=rendered_templates, disclaimer=disclaimer, points=rendered_points)

    def choose_points(self, question: str, retrieval: Retrieval) -> list[Point]:
        candidates = self._candidates(question, retrieval)
        if not candidates:
            return []
        vectors = self.corpus.sentence_vectors[[c.sentence for c in candidates]]
        picked: list[int] = []
        best = max(c.score for c in candidates)
        per_chunk: dict[int, int] = {}
        while len(picked) < self.settings.max_points:
            choice, _ = self._next(candidates, vectors, picked, per_chunk)
            if choice is None:
                break
            if len(picked) >= self.settings.min_points and candidates[choice].score < STOP_RATIO * best:
                break
            picked.append(choice)
            per_chunk[candidates[choice].hit.row] = per_chunk.get(candidates[choice].hit.row, 0) + 1
        return [candidates[i] for i in picked]

    def _candidates(self, question: str, retrieval: Retrieval) -> list[Point]:
        wanted = term_set(question)
        top = max((h.score for h in retrieval.hits), default=1.0) or 1.0
        points: list[Point] = []
        seen: set[str] = set()
        skip = {name.lower() for name in self.settings.skip_sections}
        for hit in retrieval.hits:
            if self.corpus.metas[hit.row]["section"].split(" > ")[-1].strip().lower() in skip:
                continue
            for row in self.corpus.by_chunk.get(hit.row, []):
                sentence = self.corpus.sentences[row]
                text = tidy(sentence.text)
                key = " ".join(words(text))
                if len(text.split()) < 4 or key in seen:
                    continue
                seen.add(key)
                similarity = float(self.corpus.sentence_vectors[row] @ retrieval.vector)
                overlap = len(wanted & self.corpus.sentence_terms[row]) / len(wanted) if wanted else 0.0
                score = 0.55 * similarity + 0.30 * overlap + 0.15 * (hit.score / top)
                points.append(Point(row, hit, score, text))
        return points

    @staticmethod
    def _next(candidates: list[Point], vectors: np.ndarray, picked: list[int],
              per_chunk: dict[int, int]) -> tuple[int | None, float]:
        best_index, best_value = None, -1e9
        for i, candidate in enumerate(candidates):
            if i in picked:
                continue
            redundancy = float(np.max(vectors[picked] @ vectors[i])) if picked else 0.0
            if redundancy > NEAR_DUPLICATE:
                continue
            value = MMR_LAMBDA * candidate.score - (1 - MMR_LAMBDA) * redundancy
            value -= 0.05 * per_chunk.get(candidate.hit.row, 0)
            if value > best_value:
                best_index, best_value = i, value
        return best_index, best_value

    def choose_templates(self, question: str, retrieval: Retrieval, cited_rows: set[int]) -> list[Hit]:
        if self.settings.max_templates == 0:
            return []
        wants = _TEMPLATE_INTENT.search(question) is not None
        templates = [h for h in retrieval.hits if self.corpus.metas[h.row]["kind"] == "template"]
        if not wants:
            templates = [h for h in templates if self._parent_row(h.row) in cited_rows]
        hinted = {lang for lang, pattern in _LANGUAGE_HINTS.items() if re.search(pattern, question, re.I)}

        def rank(hit: Hit) -> float:
            language = self.corpus.metas[hit.row]["language"]
            similarity = float(self.corpus.vectors[hit.row] @ retrieval.vector)
            return similarity + 0.3 * (language in hinted) + 0.2 * (self._parent_row(hit.row) in cited_rows)

        limit = self.settings.max_templates if wants else 1
        ranked = sorted(((rank(h), h) for h in templates), key=lambda pair: pair[0], reverse=True)[:limit]
        # A second template only when it is nearly as relevant as the first: fewer, better templates.
        return [h for score, h in ranked if score >= ranked[0][0] - TEMPLATE_MARGIN]

    def _parent_row(self, row: int) -> int | None:
        return self.corpus.row.get(str(self.corpus.metas[row].get("parent_id") or ""))

    def _citation(self, n: int, hit: Hit) -> Citation:
        meta = self.corpus.metas[hit.row]
        return Citation(n=n, source=meta["source"], title=meta["title"], section=meta["section"],
                        anchor=meta["anchor"], start_line=meta["start_line"], end_line=meta["end_line"],
                        score=round(hit.score, 6), text=self.corpus.texts[hit.row], kind=meta["kind"])

    def _template(self, n: int, row: int) -> Template:
        meta = self.corpus.metas[row]
        return Template(n=n, language=meta["language"], code=self.corpus.texts[row], source=meta["source"],
                        section=meta["section"])


def fence(code: str, language: str) -> str:
    """A fence longer than any backtick run inside the code, so templates always render whole."""
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{language}\n{code}\n{ticks}"


def render_markdown(points: list[str], templates: list[Template], citations: list[Citation],
                    disclaimer: str) -> str:
    parts = ["\n".join(f"- {p}" for p in points)]
    if templates:
        parts.append("**Templates**")
        by_n = {c.n: c for c in citations}
        for template in templates:
            label = by_n[template.n].label
            parts.append(f"[{template.n}] {label} ({template.language})\n\n{fence(template.code, template.language)}")
    parts.append("**Sources**")
    parts.append("\n".join(
        f"{c.n}. {c.label} ({c.location})" for c in citations))
    parts.append("\n".join(f"> {line}" for line in disclaimer.split("\n")))
    return "\n\n".join(parts)
