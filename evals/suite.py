"""Run the golden sets of one or more corpora, each on its own throw-away index.

An eval index lives under `<index_dir>/evals/<corpus>-<content hash>`: reruns on unchanged files
find it and only re-check the manifest (nothing is re-embedded); a changed corpus gets a new
folder and the stale one is removed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.chain import Bot, load_bot
from core.errors import SourceError
from core.settings import Settings
from evals.corpora import EvalCorpus, corpora, split_of
from evals.dataset import Dataset, load_dataset
from evals.runner import EvalResult, EvalRun, evaluate_all
from ingest.embed import Embedder
from ingest.pipeline import ingest

EVALS = Path(__file__).parent
LABELS = EVALS / "support_labels.yaml"
SPLITS = ("report", "calibrate", "all")


@dataclass
class CorpusEval:
    corpus: EvalCorpus
    dataset: Dataset
    bot: Bot
    run: EvalRun | None = None

    def result(self, split: str = "report") -> EvalResult:
        if self.run is None:
            self.run = evaluate_all(self.bot, self.dataset, LABELS)
        ids = None if split == "all" else {c.id for c in self.dataset.cases if split_of(c) == split}
        return self.run.aggregate(self.dataset, ids)


def available(settings: Settings, names: list[str] | None = None) -> list[EvalCorpus]:
    """The corpora asked for (default: all whose folder exists); a named but missing one is an error."""
    known = corpora(settings.sources[0] if settings.sources else Path("kb"), settings.shared_dir)
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SourceError(f"unknown eval corpus {', '.join(unknown)}; use one of: {', '.join(known)}")
        missing = [known[n] for n in names if not known[n].available()]
        if missing:
            raise SourceError(f"eval corpus {missing[0].name!r} needs the folder {missing[0].root}, which is missing")
        return [known[n] for n in names]
    return [c for c in known.values() if c.available()]


def corpus_settings(settings: Settings, corpus: EvalCorpus) -> Settings:
    folder = settings.index_dir / "evals"
    index = folder / f"{corpus.name}-{corpus.content_hash()}"
    for stale in folder.glob(f"{corpus.name}-*"):
        if stale != index:
            shutil.rmtree(stale, ignore_errors=True)
    return settings.model_copy(update={"sources": [corpus.root], "index_dir": index, "chroma_url": ""})


def evaluate_corpus(settings: Settings, corpus: EvalCorpus, embedder: Embedder) -> CorpusEval:
    """The corpus's cached index brought up to date and a bot on it; the cases run on first `result`."""
    local = corpus_settings(settings, corpus)
    ingest(local, embedder)
    return CorpusEval(corpus, load_dataset(corpus.golden), load_bot(local, embedder))
