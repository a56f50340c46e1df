"""Load documents: discover files, read them safely, repair text, parse front matter."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.errors import FrontMatterError, SourceError
from core.settings import SourceFolder, default_source_name
from ingest import code, html, pdf
from ingest.mkdocs import SNIPPET, is_mkdocs, normalize, snippet_file
from ingest.records import Converted, DocKind, Document, Notice, Skipped
from ingest.repair import repair_text
from ingest.schema import PatternFrontMatter, PersonaFrontMatter, ReferenceFrontMatter
from ingest.yaml_guard import expansion_problem

SUFFIXES = (".md", ".markdown", ".txt")
CONVERTED = (*html.SUFFIXES, *pdf.SUFFIXES)  # read as bytes and converted to markdown
CONVERTER_VERSION = "1"  # part of a converted document's hash: a better converter re-chunks them
_FENCE = re.compile(r"^---\s*$")
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)  # files not read, by reason (for --explain)


# Never knowledge: dependencies, build output, tool caches, lock files and minified bundles.
SKIP_DIRS = {"node_modules", "venv", "cdk.out", "build", "dist", "target", "__pycache__", "coverage",
             "site-packages", "vendor"}
SKIP_FILES = ("*.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "*.min.js", "*.min.css",
              "*.map", "tsconfig*.json", "package.json")


def _ignore_rules(root: Path) -> Any:
    """The source's `.kbignore` and `.gitignore` (gitignore syntax), as one matcher."""
    import pathspec

    lines: list[str] = [*SKIP_FILES]
    for name in (".gitignore", ".kbignore"):
        rules = root / name
        if rules.is_file():
            lines.extend(rules.read_text(encoding="utf-8", errors="replace").splitlines())
    return pathspec.GitIgnoreSpec.from_lines(lines)


@dataclass(frozen=True)
class Selection:
    """The user's own choice of files: `--include` / `KB_INCLUDE` and `--exclude` / `KB_EXCLUDE` globs
    (gitignore syntax, relative to each source folder). No include globs: every file is a candidate."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def reason_left_out(self, rel: str) -> str:
        """Why the file is not read, or "" when it is."""
        if self.exclude and self._specs[1].match_file(rel):
            return "matched --exclude / KB_EXCLUDE"
        if self.include and not self._specs[0].match_file(rel):
            return "not matched by --include / KB_INCLUDE"
        return ""

    @functools.cached_property
    def _specs(self) -> tuple[Any, Any]:
        import pathspec

        return pathspec.GitIgnoreSpec.from_lines(self.include), pathspec.GitIgnoreSpec.from_lines(self.exclude)


def discover(sources: list[Path], left_out: Counter[str] | None = None,
             selection: Selection = Selection()) -> Iterator[tuple[Path, Path]]:
    """Yield (source folder, file) for every markdown-ish, code or IaC file, in a stable order;
    hidden paths, SKIP_DIRS, SKIP_FILES, `.kbignore` and `.gitignore` entries and files the user's
    selection leaves out are skipped (and counted by reason in `left_out`)."""
    left_out = Counter() if left_out is None else left_out
    for root in sources:
        if not root.is_dir():
            raise SourceError(f"source folder {root} does not exist or is not a folder; pass --source DIR")
        ignored = _ignore_rules(root)
        for path in sorted(root.rglob("*"), key=_parts):  # Path order, without Path comparisons (10,000: 0.5 s)
            rel = path.relative_to(root)
            if path.suffix.lower() not in (*SUFFIXES, *code.SUFFIXES, *CONVERTED) or path.is_dir():
                continue
            if any(part.startswith(".") for part in rel.parts):
                left_out["hidden path"] += 1
            elif any(part in SKIP_DIRS for part in rel.parts):
                left_out["dependency or build folder (node_modules, build, cdk.out, ...)"] += 1
            elif ignored.match_file(rel.as_posix()):
                left_out[".kbignore, .gitignore, lock or minified file"] += 1
            elif reason := selection.reason_left_out(rel.as_posix()):
                left_out[reason] += 1
            else:
                yield root, path


def _parts(path: Path) -> tuple[str, ...]:
    return path.parts


def read_bytes(path: Path, max_bytes: int) -> bytes | Skipped:
    """The file's bytes, or why it was skipped; never more than `max_bytes` are read, and only from
    a regular file (a FIFO named like a document would block the ingest forever)."""
    rel = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        if path.is_symlink():
            return Skipped(rel, "unreadable", f"a broken symlink to {os.readlink(path)}")
        return Skipped(rel, "vanished", "removed after it was found, before it was read; "
                                        "its last indexed version is kept")
    except OSError as exc:
        return Skipped(rel, "unreadable", exc.strerror or str(exc))
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return Skipped(rel, "unreadable", "not a regular file (a FIFO, socket or device); not read")
            if info.st_size > max_bytes:
                return Skipped(rel, "over-size", f"{info.st_size:,} bytes is over the {max_bytes:,}-byte limit "
                                                 "(KB_MAX_FILE_BYTES)")
            raw = handle.read(max_bytes + 1)
        except OSError as exc:
            return Skipped(rel, "unreadable", exc.strerror or str(exc))
    if len(raw) > max_bytes:
        return Skipped(rel, "over-size", f"grew past the {max_bytes:,}-byte limit (KB_MAX_FILE_BYTES) while read")
    return raw


def read_text(path: Path, max_bytes: int) -> str | Skipped:
    """The file's repaired text, or why it was skipped."""
    rel = str(path)
    raw = read_bytes(path, max_bytes)
    if isinstance(raw, Skipped):
        return raw
    if b"\x00" in raw[:8192]:
        return Skipped(rel, "binary", "contains NUL bytes; not a text document")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Skipped(rel, "invalid-encoding", f"not valid UTF-8 at line {line} (byte {exc.start})")
    if not text.strip():
        return Skipped(rel, "empty", "no text")
    return repair_text(text)


def _closing_line(lines: list[str], start: int) -> int | None:
    for i in range(start + 1, len(lines)):
        if _FENCE.match(lines[i]) or lines[i].rstrip() == "...":
            return i
    return None


def _front_matter_start(lines: list[str]) -> tuple[int, bool] | None:
    """Index of the opening `---` and whether it sits after a leading H1."""
    if lines and _FENCE.match(lines[0]):
        return 0, False
    nonblank = [i for i, line in enumerate(lines[:12]) if line.strip()]
    if len(nonblank) >= 3 and _H1.match(lines[nonblank[0]]) and _FENCE.match(lines[nonblank[1]]):
        following = lines[nonblank[2]]
        if re.match(r"^[A-Za-z_][\w-]*:\s", following + " "):
            return nonblank[1], True
    return None


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str, list[Notice]]:
    """Parse front matter (safe YAML only) and blank its lines so line numbers stay true."""
    lines = text.split("\n")
    found = _front_matter_start(lines)
    if found is None:
        return {}, text, []
    start, late = found
    end = _closing_line(lines, start)
    if end is None:
        return {}, text, [Notice(path, start + 1, "front matter opened with --- but never closed; ignored")]
    notices = []
    if late:
        notices.append(Notice(path, start + 1, "front matter sits after the leading heading; "
                                               "move it to the top of the file"))
    block = "\n".join(lines[start + 1 : end])
    data: dict[str, Any] = {}
    body = "\n".join(lines[:start] + [""] * (end + 1 - start) + lines[end + 1 :])
    problem = expansion_problem(block)
    if problem:
        return {}, body, [*notices, Notice(path, start + 1, f"front matter ignored: {problem}")]
    try:
        parsed = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = start + 2 + mark.line if mark is not None else start + 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        notices.append(Notice(path, line, f"malformed front matter ({problem}); body ingested without it"))
    else:
        if isinstance(parsed, dict):
            data = parsed
        elif parsed is not None:
            notices.append(Notice(path, start + 1, "front matter is not a mapping; ignored"))
    return data, body, notices


def _kind_of(rel: Path, front_matter: dict[str, Any]) -> DocKind:
    declared = front_matter.get("kind")
    if declared in ("persona", "pattern", "reference"):
        return declared  # type: ignore[no-any-return]
    for folder, kind in (("personas", "persona"), ("patterns", "pattern"), ("reference", "reference")):
        if folder in rel.parts:
            return kind  # type: ignore[return-value]
    return "other"


def validate_front_matter(kind: DocKind, front_matter: dict[str, Any], path: Path) -> None:
    """Raise FrontMatterError naming the file and the field for an invalid persona or pattern."""
    model: type[PatternFrontMatter] | type[PersonaFrontMatter] | type[ReferenceFrontMatter]
    if kind == "pattern":
        model = PatternFrontMatter
    elif kind == "reference":
        model = ReferenceFrontMatter
    elif kind == "persona" and front_matter.get("kind") == "persona":
        model = PersonaFrontMatter
    else:
        return
    try:
        model.model_validate(front_matter)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "front matter"
        raise FrontMatterError(f"{path}: field '{where}': {first['msg']}") from None
    if kind in ("pattern", "reference") and front_matter.get("id") != path.stem:
        raise FrontMatterError(f"{path}: field 'id': {front_matter.get('id')!r} must equal the file name "
                               f"{path.stem!r}")


def _title(front_matter: dict[str, Any], body: str, path: Path) -> str:
    for key in ("title", "name"):
        value = front_matter.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    in_fence = False
    for line in body.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _H1.match(line)
        if match:
            return match.group(1)
    return path.stem.replace("-", " ").replace("_", " ")


@functools.lru_cache(maxsize=64)
def _real_root(root: Path) -> Path:
    """A source folder's real path, resolved once per run rather than once per file (10,000 files: 1 s)."""
    return root.resolve()


def _linked(root: Path, rel: Path, folders: dict[str, bool]) -> bool:
    """Whether the file, or a folder on its way from the root, is a symlink; `folders` remembers the
    folders already checked in this run (10,000 files in 1,000 folders: 0.1 s instead of 1 s)."""
    parts = rel.parts
    for depth in range(1, len(parts)):
        folder = os.path.join(root, *parts[:depth])
        if folder not in folders:
            folders[folder] = os.path.islink(folder)
        if folders[folder]:
            return True
    return os.path.islink(os.path.join(root, *parts))


def load_document(root: Path, path: Path, max_bytes: int,
                  folders: dict[str, bool] | None = None) -> tuple[Document | Skipped, list[Notice]]:
    rel = path.relative_to(root)
    # Resolved only when a link is on the way (realpath costs an lstat per component of the whole path).
    linked = _linked(root, rel, {} if folders is None else folders)
    real = path.resolve() if linked else _real_root(root) / rel
    if not real.is_relative_to(_real_root(root)):
        return Skipped(rel.as_posix(), "outside-root", f"a symlink to {real}, outside {root}; not read"), []
    if path.suffix.lower() in CONVERTED:
        return _converted_document(root, rel, path, max_bytes)
    text = read_text(path, max_bytes)
    if isinstance(text, Skipped):
        return Skipped(rel.as_posix(), text.reason, text.detail), []
    if path.suffix.lower() in code.SUFFIXES:
        return _code_document(root, rel, text), []
    front_matter, body, notices = split_front_matter(text, rel.as_posix())
    kind = _kind_of(rel, front_matter)
    try:
        validate_front_matter(kind, front_matter, rel)
    except FrontMatterError as exc:
        return Skipped(rel.as_posix(), "invalid-front-matter", str(exc)), notices
    if not body.strip():
        return Skipped(rel.as_posix(), "empty", "only front matter, no body"), notices
    includes: dict[str, str] = {}
    if is_mkdocs(body):
        body = normalize(body)
        includes = _read_snippets(root, rel, body, max_bytes, notices)
    digest = hashlib.sha256("\x00".join([text, *sorted(f"{k}\x00{v}" for k, v in includes.items())])
                            .encode("utf-8")).hexdigest()
    title = _title(front_matter, body, path)
    doc = Document(rel.as_posix(), root, title, kind, body, front_matter, digest, includes)
    return doc, notices


def _converted_document(root: Path, rel: Path, path: Path, max_bytes: int) -> tuple[Document | Skipped, list[Notice]]:
    """An HTML page or a PDF, converted to markdown (see ingest.html and ingest.pdf)."""
    name = rel.as_posix()
    raw = read_bytes(path, max_bytes)
    if isinstance(raw, Skipped):
        return Skipped(name, raw.reason, raw.detail), []
    converted: Converted | Skipped
    if path.suffix.lower() in pdf.SUFFIXES:
        converted = pdf.convert(raw, name)
    else:
        text = html.decode(raw, name)
        converted = text if isinstance(text, Skipped) else html.convert(repair_text(text), name)
    if isinstance(converted, Skipped):
        return converted, []
    digest = hashlib.sha256(b"converted\x00" + CONVERTER_VERSION.encode() + b"\x00" + raw).hexdigest()
    front_matter: dict[str, Any] = {"description": converted.summary} if converted.summary else {}
    title = converted.title or path.stem.replace("-", " ").replace("_", " ")
    doc = Document(name, root, title, "other", converted.body, front_matter, digest, pages=converted.pages)
    return doc, list(converted.notices)


def _code_document(root: Path, rel: Path, text: str) -> Document | Skipped:
    if rel.suffix.lower() in (".yaml", ".yml"):
        problem = expansion_problem(text)
        if problem:
            return Skipped(rel.as_posix(), "yaml-bomb" if "bomb" in problem else "unparsable", problem)
    language = code.code_language(rel.name, text)
    if language is None:
        return Skipped(rel.as_posix(), "not-knowledge", "YAML or JSON that is not a template or state machine")
    if not text.strip():
        return Skipped(rel.as_posix(), "empty", "no code")
    body = code.markdown(rel.as_posix(), text, language)
    digest = hashlib.sha256(f"code\x00{text}".encode()).hexdigest()
    return Document(rel.as_posix(), root, rel.as_posix(), "code", body, {}, digest, {rel.as_posix(): text})


def _read_snippets(root: Path, rel: Path, body: str, max_bytes: int, notices: list[Notice]) -> dict[str, str]:
    """The files that code fences include with `--8<--`, read from the source root (a missing one is a warning)."""
    found: dict[str, str] = {}
    base = _real_root(root)
    for number, line in enumerate(body.split("\n"), start=1):
        match = SNIPPET.match(line)
        wanted = snippet_file(match.group(1))[0] if match else ""
        if not match or wanted in found:
            continue
        target = (root / wanted).resolve()
        if not target.is_relative_to(base):
            notices.append(Notice(rel.as_posix(), number, f"snippet {wanted!r} points outside the source root "
                                                          f"{root}; not read"))
            continue
        if not target.is_file():
            notices.append(Notice(rel.as_posix(), number, f"snippet {wanted!r} not found under {root}; left out"))
            continue
        text = read_text(target, max_bytes)
        if isinstance(text, Skipped):
            notices.append(Notice(rel.as_posix(), number, f"snippet {wanted!r} skipped: {text.detail}"))
            continue
        found[wanted] = text
    return found


def named(sources: Sequence[Path | SourceFolder]) -> list[SourceFolder]:
    """Source folders with their names; a bare folder is named after itself."""
    return [s if isinstance(s, SourceFolder) else SourceFolder(s, default_source_name(s)) for s in sources]


def load_documents(sources: Sequence[Path | SourceFolder], max_bytes: int,
                   progress: Callable[[int, int], None] | None = None,
                   selection: Selection = Selection()) -> LoadResult:
    """Load every selected document under the source folders; bad files are skipped, not fatal.
    `progress` is told (files read, files found) as reading goes."""
    result = LoadResult()
    found = [(source.name, root, path) for source in named(sources)
             for root, path in discover([source.path], result.left_out, selection)]
    folders: dict[str, bool] = {}
    for read, (name, root, path) in enumerate(found, start=1):
        loaded, notices = load_document(root, path, max_bytes, folders)
        result.notices.extend(notices)
        if isinstance(loaded, Document):
            result.documents.append(replace(loaded, source_name=name))
        elif loaded.reason == "not-knowledge":
            result.left_out["YAML or JSON that is not a template or state machine"] += 1
        else:
            result.skipped.append(replace(loaded, source_name=name))
        if progress is not None:
            progress(read, len(found))
    # Code a page already includes with `--8<--` is cited there, at its own lines: not twice.
    included = {(d.source_name, path) for d in result.documents if d.kind != "code" for path in d.includes}
    kept = [d for d in result.documents if d.kind != "code" or (d.source_name, d.source) not in included]
    if len(kept) < len(result.documents):
        result.left_out["code a page already includes (cited there)"] += len(result.documents) - len(kept)
    result.documents = kept
    return result
