"""The eval corpora: the project's own `kb/` and two corpora nobody on the project wrote.

Each corpus has a source folder and a golden set whose expected sources are paths relative to
that folder. `check_golden` verifies a set against its corpus without embedding anything, so a
case that names a section the chunker never produces is caught before it silently scores zero.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import KBError
from evals.dataset import Case, Dataset, load_dataset
from ingest.clean import load_rules, remove_non_knowledge
from ingest.load import load_documents
from ingest.markdown import parse_sections

EVALS = Path(__file__).parent


@dataclass(frozen=True)
class EvalCorpus:
    name: str
    root: Path
    golden: Path

    def available(self) -> bool:
        return self.root.is_dir()

    def content_hash(self) -> str:
        """Hash of every file under the root (names and bytes): the key of its cached index."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            digest.update(path.relative_to(self.root).as_posix().encode() + b"\x00")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()[:16]


def corpora(kb_root: Path, shared: Path) -> dict[str, EvalCorpus]:
    return {
        "kb": EvalCorpus("kb", kb_root, EVALS / "golden.yaml"),
        "seeds": EvalCorpus("seeds", shared / "seeds", EVALS / "golden-seeds.yaml"),
        "powertools": EvalCorpus("powertools", shared / "corpora" / "powertools-python",
                                 EVALS / "golden-powertools.yaml"),
    }


def split_of(case: Case) -> str:
    """Calibration or reported half, fixed by the case id so it never drifts between runs."""
    return "calibrate" if hashlib.sha256(case.id.encode()).digest()[0] % 2 == 0 else "report"


def corpus_sections(root: Path, rules_path: Path, max_bytes: int = 5_000_000) -> tuple[dict[str, set[str]],
                                                                                       dict[str, str]]:
    """source -> section paths that ingestion produces after cleaning (included files count as
    sources of their own), and source -> its lower-cased text."""
    rules = load_rules(rules_path)
    found: dict[str, set[str]] = {}
    texts: dict[str, str] = {}
    for doc in load_documents([root], max_bytes).documents:
        cleaned = remove_non_knowledge(doc.source, parse_sections(doc.body), rules)
        found[doc.source] = {s.section_path or doc.title for s in cleaned.sections} | {doc.title}
        texts[doc.source] = "\n".join([doc.body, *doc.includes.values()]).lower()
        for included, text in doc.includes.items():
            found.setdefault(included, set()).add("")
            texts[included] = text.lower()
    return found, texts


def check_golden(dataset: Dataset, root: Path, rules_path: Path) -> list[str]:
    """Problems with a golden set: expected sources or sections the corpus does not have."""
    sections, texts = corpus_sections(root, rules_path)
    problems = []
    for case in dataset.cases:
        where = " ".join(texts.get(e.source, "") for e in case.expected)
        problems += [f"{case.id}: fact {fact!r} is in none of its expected documents"
                     for fact in case.must_include if fact.lower() not in where]
        for expected in case.expected:
            paths = sections.get(expected.source)
            if paths is None:
                problems.append(f"{case.id}: no document {expected.source!r} under {root}")
            elif expected.section and not any(p.endswith(expected.section) for p in paths):
                problems.append(f"{case.id}: {expected.source} has no section ending in {expected.section!r}")
    return problems


def main() -> None:
    """python -m evals.corpora GOLDEN.yaml ROOT [RULES]: list the problems in a golden set."""
    golden, root = Path(sys.argv[1]), Path(sys.argv[2])
    rules = Path(sys.argv[3]) if len(sys.argv) > 3 else Path("kb/exclude.yaml")
    try:
        dataset = load_dataset(golden)
    except KBError as exc:
        sys.exit(f"error: {exc}")
    problems = check_golden(dataset, root, rules)
    for problem in problems:
        print(problem)
    counts = {kind: len(dataset.of_kind(kind)) for kind in ("in_scope", "out_of_scope", "followup")}
    code = sum(bool(c.template_languages) for c in dataset.cases)
    print(f"{len(dataset.cases)} cases {counts}, {code} asking for code; {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
