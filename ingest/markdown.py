"""Markdown structure: sections (heading paths) holding blocks, with true source line numbers.

Parsing uses a CommonMark parser, so `# comment` lines inside fenced code are never headings.
Setext headings are off: in messy documents a `---` under a line is nearly always a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

BlockKind = Literal["prose", "fence", "table"]
_PARSER = MarkdownIt("commonmark").enable("table").disable("lheading")
_CONTAINERS = {"bullet_list_open", "ordered_list_open", "blockquote_open"}


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str  # prose/table: source lines; fence: the code between the fences, verbatim
    start_line: int  # 1-based, inclusive
    end_line: int
    info: str = ""  # fence info string


@dataclass
class Section:
    level: int  # 0 for text before the first heading
    heading: str
    path: tuple[str, ...]
    start_line: int
    end_line: int = 0  # last line of the section including its subsections
    blocks: list[Block] = field(default_factory=list)

    @property
    def section_path(self) -> str:
        return " > ".join(self.path)

    @property
    def own_text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)


def _lines(text: str, start: int, end: int) -> str:
    return "\n".join(text.split("\n")[start:end]).strip("\n")


def _fence_code(token: Token) -> str:
    content = token.content
    return content[:-1] if content.endswith("\n") else content


def _container_blocks(tokens: list[Token], lines: list[str], start: int, end: int) -> list[Block]:
    """A list or quote: its text as prose, with any fences inside it lifted out as fence blocks."""
    fences = [t for t in tokens if t.type == "fence" and t.map and start <= t.map[0] < end]
    blocks: list[Block] = []
    cursor = start
    for fence in fences:
        assert fence.map is not None
        f_start, f_end = fence.map
        if f_start > cursor:
            blocks.append(Block("prose", "\n".join(lines[cursor:f_start]).strip("\n"), cursor + 1, f_start))
        blocks.append(Block("fence", _fence_code(fence), f_start + 1, f_end, fence.info.strip()))
        cursor = f_end
    if cursor < end:
        blocks.append(Block("prose", "\n".join(lines[cursor:end]).strip("\n"), cursor + 1, end))
    return [b for b in blocks if b.text.strip() or b.kind == "fence"]


def _heading_text(tokens: list[Token], index: int) -> str:
    inline = tokens[index + 1]
    return re.sub(r"\s+", " ", inline.content).strip().rstrip("#").strip()


def parse_sections(body: str) -> list[Section]:
    """Split a document into sections in source order; each knows its heading path."""
    tokens = _PARSER.parse(body)
    lines = body.split("\n")
    sections = [Section(0, "", (), 1)]
    stack: list[Section] = []
    for i, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        start, end = token.map
        if token.type == "heading_open":
            level = int(token.tag[1])
            stack = [s for s in stack if s.level < level]
            heading = _heading_text(tokens, i)
            section = Section(level, heading, (*[s.heading for s in stack], heading), start + 1)
            stack.append(section)
            sections.append(section)
        elif token.type == "fence":
            sections[-1].blocks.append(Block("fence", _fence_code(token), start + 1, end, token.info.strip()))
        elif token.type == "table_open":
            sections[-1].blocks.append(Block("table", _lines(body, start, end), start + 1, end))
        elif token.type in _CONTAINERS:
            sections[-1].blocks.extend(_container_blocks(tokens[i:], lines, start, end))
        elif token.type != "hr":
            text = _lines(body, start, end)
            if text.strip():
                sections[-1].blocks.append(Block("prose", text, start + 1, end))
    _close_sections(sections, len(lines))
    return [s for s in sections if s.level > 0 or s.blocks]


def _close_sections(sections: list[Section], total_lines: int) -> None:
    """A section ends where the next heading of the same or a higher level starts."""
    for i, section in enumerate(sections):
        section.end_line = total_lines
        for later in sections[i + 1 :]:
            if later.level and (section.level == 0 or later.level <= section.level):
                section.end_line = later.start_line - 1
                break
