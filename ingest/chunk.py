"""Heading-aware chunking: prose packed within the model's token limit, code kept whole as templates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.providers import PROVIDERS, providers_in
from core.text_units import TOP_LEVEL_ITEM, split_sentences
from ingest.language import language_of
from ingest.markdown import Block, Section
from ingest.mkdocs import snippet_file, snippet_paths
from ingest.records import Chunk, ChunkKind, Document

CountTokens = Callable[[list[str]], list[int]]

# How chunks are cut and embedded. Part of every chunk's id, so a change re-embeds every chunk, not
# only those whose text changed. 3: document summary, tags and included snippets; 4: tabs kept inside
# mkdocs code; 5: table rows stored as answer sentences with their own vectors; 6: rows past the
# model's window too; 7: admonition titles cleaned of attribute lists and tags like the prose.
CHUNK_FORMAT = "7"


@dataclass(frozen=True)
class Unit:
    text: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class ChunkLimits:
    max_tokens: int
    target_tokens: int
    min_template_lines: int


def slug(heading: str) -> str:
    """GitHub-style anchor for deep links."""
    text = re.sub(r"[^\w\- ]", "", heading.lower().strip())
    return re.sub(r"\s", "-", text)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _split_lines(unit: Unit) -> list[Unit]:
    """Split at list items (a bullet with its continuation lines), else at lines."""
    items: list[Unit] = []
    for offset, line in enumerate(unit.text.split("\n")):
        number = unit.start_line + offset
        if items and not TOP_LEVEL_ITEM.match(line) and line.startswith((" ", "\t")):
            last = items[-1]
            items[-1] = Unit(f"{last.text}\n{line}", last.start_line, number)
        elif line.strip():
            items.append(Unit(line, number, number))
    return items


def _split_sentences(unit: Unit) -> list[Unit]:
    return [Unit(s, unit.start_line, unit.end_line) for s in split_sentences(unit.text) if s.strip()]


def _split_words(unit: Unit, count: CountTokens, budget: int) -> list[Unit]:
    """Last resort for a run-on sentence: whole words, packed to the budget."""
    pieces: list[Unit] = []
    words = unit.text.split(" ")
    sizes = count(words)
    current: list[str] = []
    used = 0
    for word, size in zip(words, sizes, strict=True):
        if current and used + size - 2 > budget:
            pieces.append(Unit(" ".join(current), unit.start_line, unit.end_line))
            current, used = [], 0
        current.append(word)
        used += size - 2
    if current:
        pieces.append(Unit(" ".join(current), unit.start_line, unit.end_line))
    return pieces


def _remembered(count: CountTokens) -> CountTokens:
    """`count` that tokenizes each distinct text once (tokenizing is a tenth of a large ingest)."""
    known: dict[str, int] = {}

    def counted(texts: list[str]) -> list[int]:
        new = [t for t in dict.fromkeys(texts) if t not in known]
        if new:
            known.update(zip(new, count(new), strict=True))
        return [known[t] for t in texts]

    return counted


def fit_units(units: list[Unit], count: CountTokens, budget: int) -> list[Unit]:
    """Break any unit over the budget into items, then sentences, then words."""
    fitted: list[Unit] = []
    sizes = count([u.text for u in units])
    for unit, size in zip(units, sizes, strict=True):
        if size - 2 <= budget:
            fitted.append(unit)
            continue
        for splitter in (_split_lines, _split_sentences):
            parts = splitter(unit)
            if len(parts) > 1:
                fitted.extend(fit_units(parts, count, budget))
                break
        else:
            fitted.extend(_split_words(unit, count, budget))
    return fitted


def pack_units(units: list[Unit], count: CountTokens, budget: int) -> list[list[Unit]]:
    """Greedy packing in order; word-piece counts add up across whitespace, so sums are exact."""
    groups: list[list[Unit]] = []
    used = 0
    for unit, size in zip(units, count([u.text for u in units]), strict=True):
        size -= 2  # the special tokens are counted once, in the budget
        if groups and used + size <= budget:
            groups[-1].append(unit)
            used += size
        else:
            groups.append([unit])
            used = size
    return groups


class Chunker:
    """Turns one document's cleaned sections into chunks."""

    def __init__(self, count_tokens: CountTokens, limits: ChunkLimits) -> None:
        self.count = count_tokens
        self.limits = limits

    def chunk(self, doc: Document, sections: list[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        last_prose: dict[tuple[str, ...], str] = {}
        doc_providers = tuple(p for p in PROVIDERS if p in (doc.front_matter.get("providers") or []))
        for section in sections:
            path = section.path or (doc.title,)
            prose = [b for b in section.blocks if b.kind == "prose" or (self._inline_code(b) and not _included(b))]
            for group in self._prose_groups(path, prose):
                chunks.append(self._make(doc, section, "prose", group, "", "", doc_providers, len(chunks)))
            if prose:
                last_prose[path] = chunks[-1].id
            parent = self._parent(path, last_prose)
            for block in section.blocks:
                if block.kind == "table":
                    chunks.append(self._make(doc, section, "table", [_unit(block)], "", parent, doc_providers,
                                             len(chunks)))
                elif block.kind == "fence" and _included(block):
                    chunks.extend(self._included(doc, section, block, parent, doc_providers, len(chunks)))
                elif block.kind == "fence" and not self._inline_code(block):
                    language = language_of(block.info, block.text)
                    chunks.append(self._make(doc, section, "template", [_unit(block)], language, parent,
                                             doc_providers, len(chunks)))
        return self._number(chunks, _document_fields(doc))

    def _included(self, doc: Document, section: Section, block: Block, parent: str,
                  doc_providers: tuple[str, ...], position: int) -> Iterator[Chunk]:
        """A fence of `--8<--` lines: each included file becomes a template cited at its own lines."""
        for offset, spec in enumerate(snippet_paths(block.text) or []):
            path, first, last = snippet_file(spec)
            lines = doc.includes.get(path, "").rstrip("\n").split("\n")
            first, last = first or 1, min(last or len(lines), len(lines))
            code = "\n".join(lines[first - 1 : last])
            if not code.strip():
                continue
            language = language_of(block.info, code) if block.info else language_of(path.rsplit(".", 1)[-1], code)
            unit = Unit(code, first, last)
            chunk = self._make(doc, section, "template", [unit], language, parent, doc_providers, position + offset)
            yield chunk.model_copy(update={"origin": path})

    def _inline_code(self, block: Block) -> bool:
        lines = [ln for ln in block.text.split("\n") if ln.strip()]
        return block.kind == "fence" and len(lines) < self.limits.min_template_lines

    def _prose_groups(self, path: tuple[str, ...], blocks: list[Block]) -> Iterator[list[Unit]]:
        if not blocks:
            return
        count = _remembered(self.count)  # fitting and packing count the same units
        prefix_tokens = count([" > ".join(path)])[0]
        budget = min(self.limits.target_tokens, self.limits.max_tokens) - prefix_tokens
        hard = self.limits.max_tokens - prefix_tokens
        units = fit_units([_unit(b) for b in blocks], count, max(hard, 16))
        yield from pack_units(units, count, max(budget, 16))

    @staticmethod
    def _parent(path: tuple[str, ...], last_prose: dict[tuple[str, ...], str]) -> str:
        for depth in range(len(path), 0, -1):
            if path[:depth] in last_prose:
                return last_prose[path[:depth]]
        return ""

    def _make(self, doc: Document, section: Section, kind: ChunkKind, units: list[Unit], language: str,
              parent: str, doc_providers: tuple[str, ...], position: int) -> Chunk:
        text = "\n\n".join(u.text for u in units)
        path = section.section_path or doc.title
        shown = embed_text(path, kind, language, text)
        content_hash = _hash(text)
        return Chunk(
            id=f"#{position}", text=text, embed_text=shown, source=doc.source, source_name=doc.source_name,
            title=doc.title,
            doc_kind=doc.kind, section=path, anchor=slug(section.heading or doc.title),
            start_line=min(u.start_line for u in units), end_line=max(u.end_line for u in units),
            kind=kind, language=language, providers=providers_in(f"{path}\n{text}") or doc_providers,
            content_hash=content_hash[:16], parent_id=parent,
            start_page=doc.page_of(min(u.start_line for u in units)),
            end_page=doc.page_of(max(u.end_line for u in units)),
        )

    @staticmethod
    def _number(chunks: list[Chunk], doc_fields: dict[str, object]) -> list[Chunk]:
        """Stable ids from source, section and content; parents re-pointed to the final ids; the
        document's own fields (summary, tags) set once for all its chunks."""
        seen: dict[str, int] = {}
        renamed: dict[str, str] = {}
        final: list[Chunk] = []
        for ordinal, chunk in enumerate(chunks):
            base = f"{CHUNK_FORMAT}\x00{chunk.key}\x00{chunk.section}\x00{chunk.content_hash}"
            seen[base] = seen.get(base, -1) + 1
            chunk_id = _hash(f"{base}\x00{seen[base]}")[:24]
            renamed[chunk.id] = chunk_id
            final.append(chunk.model_copy(update={"id": chunk_id, "ordinal": ordinal, **doc_fields}))
        return [c.model_copy(update={"parent_id": renamed.get(c.parent_id, "")}) for c in final]


def _document_fields(doc: Document) -> dict[str, object]:
    """Front matter that describes the whole document: searched as fields of the document."""
    fm = doc.front_matter
    summary = next((str(fm[k]) for k in ("summary", "description") if isinstance(fm.get(k), str)), "")
    if summary.strip().lower() in ("", "awaiting summary.", "n/a", "todo"):
        summary = ""
    tags: list[object] = next((fm[k] for k in ("tags", "keywords") if isinstance(fm.get(k), list)), [])
    return {"doc_summary": summary.strip()[:500], "doc_tags": tuple(str(t) for t in tags if str(t).strip())[:20]}


def _included(block: Block) -> bool:
    return block.kind == "fence" and snippet_paths(block.text) is not None


def _unit(block: Block) -> Unit:
    return Unit(block.text, block.start_line, block.end_line)


def embed_text(section: str, kind: str, language: str, text: str) -> str:
    """What the model sees: the heading path, then the text (fenced for templates, compacted for tables)."""
    shown = {"template": _fenced(text, language), "table": _compact_table(text)}.get(kind, text)
    return f"{section}\n{shown}"


def _fenced(code: str, language: str) -> str:
    return f"```{language}\n{code}\n```"


def _compact_table(table: str) -> str:
    """Padding and long rules in a table cost tokens and carry no meaning; the stored text keeps them."""
    return re.sub(r"-{4,}", "---", re.sub(r"[ \t]{2,}", " ", table))
