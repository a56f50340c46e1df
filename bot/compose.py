"""Extractive answers: the retrieved sentences that best answer the question, each with its [n].

Deterministic and offline: sentences are scored by semantic similarity (vectors pooled at ingest),
term overlap and the rank of their chunk, chosen with a redundancy penalty (MMR), tidied lightly
and cited. Templates come verbatim from the knowledge base; the disclaimer comes from the persona.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np

from bot.answer import Answer, Citation, Template
from bot.corpus import Corpus
from bot.persona import Persona
from bot.retrieve import Hit, Retrieval
from bot.shape import (
    Shape,
    asks_to_be_shown,
    classify,
    describe_template,
    hinted_languages,
    label_for,
    role_bonus,
    shape_bonus,
)
from bot.tables import asked_extents, indexed_rows, naming_rows, other_variants, row_cells, row_sentences
from bot.text import term_set, words
from core.providers import providers_in
from core.settings import AnswerSettings
from core.text_units import Span, is_quotable, step_number, strip_bold, strip_bullet, strip_citations, strip_links
from ingest.hostile import addressed_to_assistant
from ingest.tables import row_spans

DIAGRAMS = frozenset({"mermaid", "plantuml", "dot", "graphviz"})
# Languages that are mostly data (a sample event, an output, a config): code asked for without naming
# a language is a program, not these.
DATA_LANGUAGES = frozenset({"json", "yaml", "toml", "xml", "text", ""})


@dataclass(frozen=True)
class Point:
    sentence: int  # row in corpus.sentences; -1 for a table row or a template description
    hit: Hit
    score: float
    text: str
    vector: np.ndarray  # for redundancy: the sentence's vector, or its chunk's


# "I" speaking: a persona's or an agent prompt's voice ("Before writing ANY function, I check"),
# not a fact about the system; documentation states facts in the third person.
_FIRST_PERSON = re.compile(r"(?<![\w`'-])I(?:'m|'ve|'ll|'d)?\s")


# A line that is nothing but links ("- [Idempotency the right way](https://...)"): a reading list or
# a navigation entry, which names a page and claims nothing.
_LINKS_ONLY = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(?:!?\[[^\]]*\]\([^)]*\)[\s,;.:|-]*)+$")


# A sentence about its own document ("This article walks through...", "This reference sheet lists..."):
# it says what the page covers, not what is true of the system.
_ABOUT_PAGE = re.compile(r"^(?:this|the following)\s+(?:reference\s+sheet|article|blog\s+post|post|page|guide|"
                         r"tutorial|document|documentation|chapter|section|workshop|video)\b", re.I)

# A pointer to further reading ("Read more about ...", "... in Pydantic's documentation", "All examples
# shared in this documentation are in the repository", "This example is based on the AWS docs for ..."):
# it sends the reader elsewhere and says nothing about the system.
_POINTER = re.compile(r"^(?:\w+:\s*)?(?:read|learn) more\b|\b(?:to|can) learn more\b|"
                      r"\bread more (?:details )?(?:about|in)\b|\b(?:in|within) (?:this|the) documentation\b|"
                      r"\b[\w-]+'s documentation\b|\bofficial documentation\b|^this example is based on\b", re.I)

# Diagram source that reached the prose ("graph LR A --> B"): drawing instructions, not a claim.
_DIAGRAM_SOURCE = re.compile(r"^(?:graph|flowchart)\s+(?:LR|RL|TB|TD|BT)\b|^(?:sequenceDiagram|classDiagram|"
                             r"stateDiagram(?:-v2)?|erDiagram|gantt|journey|mindmap)\b|\s-->|\s->>", re.I)

_MIN_STEPS = 3  # fewer numbered items are a list, not a procedure

# Words that stay lower case in a title ("Monitoring and Observability Pattern").
_TITLE_SMALL = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the",
                          "to", "via", "vs", "with"})
_TITLE_WORDS = 8  # longer lines are sentences even when every word is capitalised


def _is_title(text: str) -> bool:
    """A short line whose every word is capitalised names something ("Example 3: Multi-Region
    Disaster Recovery", "AWS Cloud Development Kit (CDK)"): a heading or a label, not a claim. A
    comma makes it a list of names ("Netlify Functions: Background Functions, Scheduled
    Functions"), which answers "which kinds are there"."""
    if "," in text:
        return False
    found = re.findall(r"[A-Za-z][\w'-]*|\d+", text)
    content = [w for w in found if w.lower() not in _TITLE_SMALL]
    return 0 < len(found) <= _TITLE_WORDS and all(w[0].isupper() or w[0].isdigit() for w in content)


def _can_be_point(text: str, raw: str) -> bool:
    """Long enough to say something, not in an author's own voice, about its own page or a pointer to
    further reading, not a title or a question (a checklist's "Is the function idempotent?" asks, it
    does not tell), not diagram source, and not a bare link (`raw` is the text as written, before
    links became their text)."""
    return (is_quotable(text) and not _FIRST_PERSON.search(text) and not _LINKS_ONLY.match(raw)
            and not _is_title(text) and not text.endswith("?") and not _ABOUT_PAGE.match(text)
            and not _DIAGRAM_SOURCE.search(text) and not _POINTER.search(text))


def tidy(text: str) -> str:
    """Light cleanup of a quoted sentence or bullet; never changes its meaning."""
    text = re.sub(r"^\s*(>\s*)+", "", text)  # a quoted line reads as the line itself
    text = strip_bullet(text)
    text = re.sub(r"\s*\n\s*", " ", text)
    text = strip_bold(text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = strip_links(text)
    text = strip_citations(text)  # citation-like markers in the source would mislead
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
        self._skip = {name.lower() for name in settings.skip_sections}

    def compose(self, question: str, retrieval: Retrieval) -> Answer:
        shape = classify(question)
        lead = self.lead(retrieval, shape, question)
        retrieval = with_lead_first(retrieval, lead)
        lead = retrieval.hits[0] if lead is not None else None  # as ranked now: first
        points = self.choose_points(question, retrieval, shape, lead)
        chosen = [(p.text, p.hit) for p in points]
        return self.assemble(question, retrieval, chosen, lead=lead, shape=shape)

    def assemble(self, question: str, retrieval: Retrieval, chosen: list[tuple[str, Hit]],
                 lead: Hit | None = None, shape: Shape | None = None) -> Answer:
        """Number citations in evidence order, attach templates verbatim and the disclaimer."""
        shape = shape or classify(question)
        # Whatever chose them (an old index, a table row, an LLM), text steering the assistant is no point.
        chosen = [(text, hit) for text, hit in chosen if not addressed_to_assistant(text)]
        cited = {hit.row for _, hit in chosen}
        templates = self.choose_templates(question, retrieval, cited, shape, lead)
        position = evidence_positions(retrieval)
        rows = sorted(cited | {h.row for h in templates}, key=lambda row: position.get(row, len(position)))
        numbers = {row: n for n, row in enumerate(rows, start=1)}
        hits = {h.row: h for h in [*retrieval.hits, *templates]}
        quoted: dict[int, list[str]] = {}
        for text, hit in chosen:
            quoted.setdefault(hit.row, []).append(text)
        citations = [self._citation(numbers[row], hits[row], quoted.get(row, [])) for row in rows]
        ordered = sorted(enumerate(chosen), key=lambda item: (numbers[item[1][1].row], item[0]))
        steps = {row: self._step_numbers(row, texts) for row, texts in quoted.items()} if shape.kind == "how_to" else {}
        rendered_points = [f"{self._labelled(shape, text, hit, steps.get(hit.row, {}))} [{numbers[hit.row]}]"
                           for _, (text, hit) in ordered]
        rendered_templates = [self._template(numbers[h.row], h.row) for h in templates]
        disclaimer = self.persona.disclaimer(question, *[text for text, _ in chosen],
                                             *[t.section + " " + t.code for t in rendered_templates])
        markdown = render_markdown(rendered_points, rendered_templates, citations, disclaimer)
        return Answer(question=question, answer=markdown, abstained=False, citations=citations,
                      templates=rendered_templates, disclaimer=disclaimer, points=rendered_points)

    def _labelled(self, shape: Shape, text: str, hit: Hit, steps: dict[str, int] | None = None) -> str:
        if self.corpus.metas[hit.row]["kind"] != "prose":
            return text
        if steps and text in steps:
            return f"Step {steps[text]}: {text}"
        label = label_for(shape, str(self.corpus.metas[hit.row]["section"]))
        return f"{label}: {text}" if label else text

    def lead(self, retrieval: Retrieval, shape: Shape, question: str = "") -> Hit | None:
        """The best evidence an answer can open with: the top hit, unless it has nothing quotable;
        for a request to be shown code, the template asked for; for a limits or cost question, a
        table among the first hits whose row names what was asked (the figure itself beats a
        sentence about it)."""
        if shape.code and asks_to_be_shown(question):
            template = self._asked_template(retrieval, question)
            if template is not None:
                return template
        if shape.kind == "cost" and question:
            table = self._figure_table(retrieval, term_set(question))
            if table is not None:
                return table
        # In evidence order: a hit with nothing to quote (a diagram's source) gives way to what it
        # brought along (its section's prose) before the next hit.
        for hit in evidence_order(retrieval):
            if self._is_template(hit.row) or self._quotable(hit.row):
                return hit
        return None

    def choose_points(self, question: str, retrieval: Retrieval, shape: Shape | None = None,
                      lead: Hit | None = None) -> list[Point]:
        """The answer's points in answer order: the lead point (or a procedure's steps) first, then the
        others in their source's order."""
        shape = shape or classify(question)
        candidates = self._candidates(question, retrieval, shape, lead.row if lead else -1)
        best = max((c.score for c in candidates), default=0.0)  # the stop rule's scale: before the focus
        candidates = self._on_focus(candidates, self._focus(question, lead, retrieval))
        candidates = self._on_provider(candidates, self._asked_providers(question), lead)
        picked: list[int] = []
        points: list[Point] = []
        steps: list[int] = []
        if lead is not None and self._is_template(lead.row):
            points.append(Point(-1, lead, 1.0, describe_template(self.corpus, lead.row), self.corpus.vectors[lead.row]))
        elif lead is not None:
            own = [i for i, c in enumerate(candidates) if c.hit.row == lead.row]
            steps = [candidates.index(p) for p in self._steps(candidates, lead, shape)][: self.settings.max_points - 1]
            if steps:
                picked.extend(steps)
            elif own:
                picked.append(max(own, key=lambda i: candidates[i].score))
        if not candidates:
            return points
        vectors = np.stack([c.vector for c in candidates])
        per_chunk: dict[int, int] = {}
        for i in picked:
            per_chunk[candidates[i].hit.row] = per_chunk.get(candidates[i].hit.row, 0) + 1
        while len(picked) + len(points) < self.settings.max_points:
            choice, _ = self._next(candidates, vectors, picked, per_chunk, self.settings.mmr_lambda)
            if choice is None:
                break
            enough = len(picked) + len(points) >= self.settings.min_points
            if enough and candidates[choice].score < self.settings.stop_ratio * best:
                break
            picked.append(choice)
            per_chunk[candidates[choice].hit.row] = per_chunk.get(candidates[choice].hit.row, 0) + 1
        chosen = points + [candidates[i] for i in picked]
        opening = max(1, len(points) + len(steps))  # a procedure's steps keep their order
        return chosen[:opening] + sorted(chosen[opening:], key=lambda p: p.sentence)

    def _steps(self, points: list[Point], lead: Hit | None, shape: Shape) -> list[Point]:
        """For a how-to question whose lead is a numbered procedure (three steps or more), the points
        that open its steps, in order: the answer is the procedure, not its best step and sentences
        from elsewhere that resemble it."""
        if shape.kind != "how_to" or lead is None or self.settings.procedure_steps == 0:
            return []
        steps = [p for p in points if p.hit.row == lead.row and p.sentence >= 0
                 and self._step_number(p.sentence) is not None]
        steps.sort(key=lambda p: p.sentence)
        return steps[: self.settings.procedure_steps] if len(steps) >= _MIN_STEPS else []

    def _step_number(self, sentence: int) -> int | None:
        found = self.corpus.sentences[sentence]
        return step_number(self.corpus.texts[found.chunk], found.start)

    def _step_numbers(self, row: int, texts: list[str]) -> dict[str, int]:
        """The quoted texts of a chunk that open its numbered steps, with their numbers, when the
        answer quotes three or more of them (one step alone reads better without a number)."""
        wanted = set(texts)
        numbered = {}
        for sentence in self.corpus.by_chunk.get(row, []):
            text = tidy(self.corpus.sentences[sentence].text)
            number = self._step_number(sentence) if text in wanted else None
            if number is not None:
                numbered[text] = number
        return numbered if len(numbered) >= _MIN_STEPS else {}

    def _focus(self, question: str, lead: Hit | None, retrieval: Retrieval) -> set[str]:
        """The rarest of the question's topic words (words of document titles and tags) that the lead's
        chunk contains: what the answer is about. Empty when the lead names none of them, or when most
        of the first hits' documents do not (then the word is the lead's, not the question's)."""
        count = self.settings.focus_terms
        if lead is None or count == 0:
            return set()
        asked = self.corpus.topical(term_set(question))
        in_lead = {t for t in asked if t in self.corpus.term_sets[lead.row]}
        focus = set(self.corpus.key_terms(in_lead, count))
        quorum = self.settings.focus_quorum
        if not focus or quorum == 0:
            return focus
        first = [self.corpus.doc_of[h.row] for h in retrieval.hits if not h.companion][:quorum]
        named = [doc for doc in first if self._names(doc, focus)]
        return focus if 2 * len(named) > len(first) else set()

    def _names(self, doc: int, focus: set[str]) -> bool:
        return any(focus & self.corpus.term_sets[row] for row in self.corpus.doc_rows[doc])

    def _on_focus(self, candidates: list[Point], focus: set[str]) -> list[Point]:
        """The candidates from documents that name what the question is about (the lead's always does)."""
        if not focus:
            return candidates
        named: dict[int, bool] = {}
        for candidate in candidates:
            doc = self.corpus.doc_of[candidate.hit.row]
            if doc not in named:
                named[doc] = self._names(doc, focus)
        return [c for c in candidates if named[self.corpus.doc_of[c.hit.row]]]

    def _asked_providers(self, question: str) -> frozenset[str]:
        """The providers whose material may answer: those the question names (none: any), unless the
        settings let other providers' points and templates in too."""
        return frozenset() if self.settings.other_providers else frozenset(providers_in(question))

    def _on_provider(self, candidates: list[Point], asked: frozenset[str], lead: Hit | None) -> list[Point]:
        """The candidates that name a provider the question names, or none (the lead's always stay):
        "the maximum timeout of a Lambda function" is not answered by Cloud Run's."""
        keep = lead.row if lead is not None else -1
        return [c for c in candidates if c.hit.row == keep or not elsewhere(asked, providers_in(c.text))]

    def _elsewhere(self, asked: frozenset[str], row: int) -> bool:
        """Whether a chunk is about other providers only: the ones ingest tagged it with."""
        return elsewhere(asked, self.corpus.metas[row].get("providers") or ())

    def _asked_template(self, retrieval: Retrieval, question: str) -> Hit | None:
        """For an explicit request to be shown code whose best hit is prose, the template it asks for:
        the code of the best hit's own section, else of the first of the leading documents that has
        some (the topic, e.g. after "can you show me the ASL for that?"), the closest to the question;
        in the language the question names, or a program when it names none. It takes the best hit's
        place in evidence order, so it is cited first."""
        leading = [h for h in retrieval.hits if not h.companion]
        if not leading or self._is_template(leading[0].row) or 0 in (self.settings.max_templates,
                                                                     self.settings.code_lead_documents):
            return None
        hinted = hinted_languages(question)
        asked = self._asked_providers(question)

        def fitting(rows: list[int]) -> list[int]:
            return [row for row in dict.fromkeys(rows) if self._is_template(row) and (
                self.corpus.metas[row]["language"] in hinted if hinted
                else self.corpus.metas[row]["language"] not in DATA_LANGUAGES) and not self._elsewhere(asked, row)]

        section = self.corpus.metas[leading[0].row]["section"]
        # A section's first example is its main one (a sample event or an output follows it).
        own = fitting([child for row in self.corpus.doc_rows[self.corpus.doc_of[leading[0].row]]
                       if self.corpus.metas[row]["section"] == section for child in self.corpus.children.get(row, [])])
        if own:
            return replace(leading[0], row=own[0], companion=False)
        documents = list(dict.fromkeys(self.corpus.doc_of[h.row] for h in leading))
        for document in documents[: self.settings.code_lead_documents]:
            found = fitting(self._document_code(document))
            if found:
                best = max(found, key=lambda row: float(self.corpus.vectors[row] @ retrieval.vector))
                return replace(leading[0], row=best, companion=False)
        return None

    def _figure_table(self, retrieval: Retrieval, wanted: set[str]) -> Hit | None:
        first = [h for h in retrieval.hits if not h.companion][: self.settings.figure_table_depth]
        for hit in first:
            if self.corpus.metas[hit.row]["kind"] != "table" or self._skipped(hit.row):
                continue
            heading = str(self.corpus.metas[hit.row]["section"]).split(" > ")[-1]
            best = max((len(wanted & term_set(text)) for text in row_sentences(self.corpus.texts[hit.row], heading)),
                       default=0)
            if best >= max(2, round(self.settings.figure_row_share * len(wanted))):
                return hit
        return None

    def _quotable(self, row: int) -> bool:
        if self._skipped(row):
            return False
        if self.corpus.metas[row]["kind"] == "table":
            return bool(row_sentences(self.corpus.texts[row], ""))
        return any(self._usable(s) for s in self.corpus.by_chunk.get(row, []))

    def _usable(self, sentence: int) -> bool:
        raw = self.corpus.sentences[sentence].text
        return _can_be_point(tidy(raw), raw)

    def _skipped(self, row: int) -> bool:
        return self.corpus.metas[row]["section"].split(" > ")[-1].strip().lower() in self._skip

    def _is_template(self, row: int) -> bool:
        """Code a user can take away; a diagram's source is not a template."""
        meta = self.corpus.metas[row]
        return bool(meta["kind"] == "template" and meta["language"] not in DIAGRAMS)

    def _candidates(self, question: str, retrieval: Retrieval, shape: Shape, lead: int = -1) -> list[Point]:
        wanted = term_set(question)
        extents = asked_extents(question)
        top = max((h.score for h in retrieval.hits), default=1.0) or 1.0
        points: list[Point] = []
        seen: set[str] = set()
        for hit in retrieval.hits:
            if self._skipped(hit.row):
                continue
            role = role_bonus(shape, self.corpus.metas[hit.row]["section"])
            if self.corpus.metas[hit.row]["kind"] == "table":
                points += self._table_rows(hit, (wanted, extents), role, top, shape, seen, retrieval, hit.row == lead)
                continue
            for row in self.corpus.by_chunk.get(hit.row, []):
                sentence = self.corpus.sentences[row]
                text = tidy(sentence.text)
                key = " ".join(words(text))
                if not _can_be_point(text, sentence.text) or key in seen:
                    continue
                seen.add(key)
                similarity = float(self.corpus.sentence_vectors[row] @ retrieval.vector)
                overlap = len(wanted & self.corpus.sentence_terms[row]) / len(wanted) if wanted else 0.0
                score = self._score(similarity, overlap, hit.score / top, role, shape, text)
                points.append(Point(row, hit, score, text, self.corpus.sentence_vectors[row]))
        return points

    def _table_rows(self, hit: Hit, asked: tuple[set[str], frozenset[str]], role: float, top: float, shape: Shape,
                    seen: set[str], retrieval: Retrieval, lead: bool) -> list[Point]:
        """Rows that share words with the question (any row of the leading table), read out with
        their headers; a row scores its own similarity when ingest stored its vector (else the
        table's), so the row that holds the asked-for figure wins. `asked` is the question's terms
        and the extents it asks for: when some rows name an asked extent ("how long" and "Maximum
        execution duration"), the table answers with those rows only."""
        wanted, extents = asked
        heading = str(self.corpus.metas[hit.row]["section"]).split(" > ")[-1]
        stored = self.corpus.table_rows.get(hit.row, {})
        table = self.corpus.texts[hit.row]
        unasked = other_variants(table, wanted)  # Standard's row when Express was asked about
        naming = naming_rows(table, extents)
        # A row's words are its own cells': the heading every row carries would lend each the same overlap.
        cells = dict(row_cells(table))
        points = []
        for index, text in indexed_rows(table, heading):
            key = " ".join(words(text))
            overlap = len(wanted & term_set(cells[index])) / len(wanted) if wanted else 0.0
            if naming and index not in naming:
                continue
            if key in seen or index in unasked or (overlap == 0 and not lead):
                continue
            seen.add(key)
            sentence = stored.get(index)
            vector = self.corpus.sentence_vectors[sentence] if sentence is not None else self.corpus.vectors[hit.row]
            score = self._score(float(vector @ retrieval.vector), overlap, hit.score / top, role, shape, text)
            points.append(Point(-1, hit, score, text, vector))
        return points

    def _score(self, similarity: float, overlap: float, rank: float, role: float, shape: Shape, text: str) -> float:
        """A point's worth: meaning, wording, its chunk's place in the evidence, and its role."""
        weights = self.settings
        return (weights.sentence_similarity * similarity + weights.sentence_overlap * overlap
                + weights.sentence_rank * rank + weights.role_bonus * role
                + weights.role_bonus * shape_bonus(shape, text))

    def _next(self, candidates: list[Point], vectors: np.ndarray, picked: list[int],
              per_chunk: dict[int, int], mmr_lambda: float) -> tuple[int | None, float]:
        best_index, best_value = None, -1e9
        for i, candidate in enumerate(candidates):
            if i in picked:
                continue
            redundancy = float(np.max(vectors[picked] @ vectors[i])) if picked else 0.0
            if redundancy > self.settings.near_duplicate:
                continue
            value = mmr_lambda * candidate.score - (1 - mmr_lambda) * redundancy
            value -= self.settings.same_chunk_penalty * per_chunk.get(candidate.hit.row, 0)
            if value > best_value:
                best_index, best_value = i, value
        return best_index, best_value

    def choose_templates(self, question: str, retrieval: Retrieval, cited_rows: set[int],
                         shape: Shape | None = None, lead: Hit | None = None) -> list[Hit]:
        if self.settings.max_templates == 0:
            return []
        shape = shape or classify(question)
        wants = shape.code
        chosen = [lead] if lead is not None and self._is_template(lead.row) else []
        asked = self._asked_providers(question)
        templates = [h for h in retrieval.hits if self._is_template(h.row) and h not in chosen
                     and not self._elsewhere(asked, h.row)]
        if not wants:
            templates = [h for h in templates if self._parent_row(h.row) in cited_rows]
        hinted = hinted_languages(question)
        if wants and hinted and not any(self.corpus.metas[h.row]["language"] in hinted for h in [*chosen, *templates]):
            templates += [h for h in self._hinted_templates(retrieval, hinted) if not self._elsewhere(asked, h.row)]

        def rank(hit: Hit) -> float:
            language = self.corpus.metas[hit.row]["language"]
            similarity = float(self.corpus.vectors[hit.row] @ retrieval.vector)
            return (similarity + self.settings.template_language_bonus * (language in hinted)
                    + self.settings.template_cited_bonus * (self._parent_row(hit.row) in cited_rows))

        limit = (self.settings.max_templates if wants else 1) - len(chosen)
        ranked = sorted(((rank(h), h) for h in templates), key=lambda pair: pair[0], reverse=True)[:max(0, limit)]
        # A further template only when it is nearly as relevant as the best: fewer, better templates.
        return chosen + [h for score, h in ranked if score >= ranked[0][0] - self.settings.template_margin]

    def _hinted_templates(self, retrieval: Retrieval, hinted: set[str]) -> list[Hit]:
        """Templates in a language the question names ("the SAM side" wants YAML), from the documents
        of the first hits (their own code blocks and the files their sections include), when the hits
        brought none: a page's YAML example is often less like the question than its Python one."""
        present = {h.row for h in retrieval.hits}
        first = [h for h in retrieval.hits if not h.companion][: self.settings.hinted_template_documents]
        found: dict[int, Hit] = {}
        for hit in first:
            for row in self._document_code(self.corpus.doc_of[hit.row]):
                if row not in present and row not in found and self._is_template(row) \
                        and self.corpus.metas[row]["language"] in hinted:
                    found[row] = replace(hit, row=row, companion=True)
        return list(found.values())

    def _document_code(self, doc: int) -> list[int]:
        """A document's rows and the files its sections include, in order: where its code can be."""
        rows = self.corpus.doc_rows[doc]
        return list(dict.fromkeys([*rows, *(c for r in rows for c in self.corpus.children.get(r, []))]))

    def _parent_row(self, row: int) -> int | None:
        return self.corpus.row.get(str(self.corpus.metas[row].get("parent_id") or ""))

    def _quoted_spans(self, row: int, texts: list[str]) -> list[Span]:
        """Where in the chunk's text the quoted points come from: the spans ingest stored for its
        sentences, or a table row's own span, so a renderer highlights exactly what was quoted."""
        wanted = set(texts)
        if not wanted:
            return []
        meta = self.corpus.metas[row]
        if meta["kind"] == "table":
            table = self.corpus.texts[row]
            spans = row_spans(table)
            heading = meta["section"].split(" > ")[-1]
            return [spans[index] for index, sentence in indexed_rows(table, heading)
                    if sentence in wanted and index < len(spans)]
        return [(s.start, s.end) for s in (self.corpus.sentences[i] for i in self.corpus.by_chunk.get(row, []))
                if tidy(s.text) in wanted]

    def _citation(self, n: int, hit: Hit, texts: list[str]) -> Citation:
        meta = self.corpus.metas[hit.row]
        quoted = self._quoted_spans(hit.row, texts)
        text = self.corpus.texts[hit.row]
        # A quoted table row is cited with its own line as well as the table's.
        rows = [meta["start_line"] + text[:start].count("\n") for start, _ in quoted] if meta["kind"] == "table" else []
        return Citation(n=n, source=meta["source"], title=meta["title"], section=meta["section"],
                        anchor=meta["anchor"], start_line=meta["start_line"], end_line=meta["end_line"],
                        score=round(hit.score, 6), text=text, kind=meta["kind"],
                        origin=meta.get("origin", ""), start_page=meta.get("start_page"),
                        end_page=meta.get("end_page"), source_name=meta.get("source_name", ""), rows=sorted(rows),
                        quoted=sorted(quoted))

    def _template(self, n: int, row: int) -> Template:
        meta = self.corpus.metas[row]
        return Template(n=n, language=meta["language"], code=self.corpus.texts[row], source=meta["source"],
                        section=meta["section"])


def with_lead_first(retrieval: Retrieval, lead: Hit | None) -> Retrieval:
    """The evidence with a lead that retrieval did not rank first (a template brought in for a code
    request, a limits table below a sentence about the limit) moved to the front, ranked ahead of
    every hit, so it is cited [1]; unchanged when the lead is the first hit already."""
    top = min((h.rank for h in retrieval.hits), default=0)
    if lead is None or (retrieval.hits[:1] == [lead] and lead.rank == top):
        return retrieval
    first = replace(lead, rank=top - 1, companion=False)
    return replace(retrieval, hits=[first, *(h for h in retrieval.hits if h.row != lead.row)])


def elsewhere(asked: Collection[str], named: Collection[str]) -> bool:
    """Whether what names `named` providers is about others than the `asked` ones (never when
    either is empty: a question naming none takes any, a text naming none serves any)."""
    return bool(asked) and bool(named) and set(asked).isdisjoint(named)


def evidence_order(retrieval: Retrieval) -> list[Hit]:
    """The hits by rank, a companion right after the hit that brought it (ties keep retrieval's order)."""
    return sorted(retrieval.hits, key=lambda hit: (hit.rank, hit.companion))


def evidence_positions(retrieval: Retrieval) -> dict[int, int]:
    """Each hit's place in evidence order."""
    return {hit.row: i for i, hit in enumerate(evidence_order(retrieval))}


def fence(code: str, language: str) -> str:
    """A fence longer than any backtick run inside the code, so templates always render whole."""
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{language}\n{code}\n{ticks}"


def md_text(text: str) -> str:
    """Document text inside markdown: HTML is shown, never interpreted; links and images become text."""
    text = strip_links(text)
    text = re.sub(r"(?i)\b(javascript|data|vbscript):", lambda m: m.group(1) + "\u200b:", text)
    return html.escape(text, quote=False)


def render_markdown(points: list[str], templates: list[Template], citations: list[Citation],
                    disclaimer: str) -> str:
    """The answer's markdown, safe to render anywhere: document text escaped, templates fenced whole."""
    parts = ["\n".join(f"- {md_text(p)}" for p in points)]
    if templates:
        parts.append("**Templates**")
        by_n = {c.n: c for c in citations}
        for template in templates:
            label = md_text(by_n[template.n].label)
            parts.append(f"[{template.n}] {label} ({template.language})\n\n{fence(template.code, template.language)}")
    parts.append("**Sources**")
    parts.append("\n".join(f"{c.n}. {md_text(c.label)} ({md_text(c.location)})" for c in citations))
    parts.append("\n".join(f"> {md_text(line)}" for line in disclaimer.split("\n")))
    return "\n\n".join(parts)
