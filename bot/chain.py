"""The answer chain: clean → contextualise → retrieve → judge → compose, as a LangChain runnable.

`Bot.ask` runs the same three steps directly: the runnable adds tracing hooks, not behaviour,
and importing LangChain's runnables costs a third of a second of every one-shot `kb ask`.
`Bot.chain()` builds the runnable (importing LangChain then) for callers who compose it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.answer import Answer, Timings
from bot.compose import Composer
from bot.corpus import Corpus
from bot.followup import contextualize
from bot.persona import Persona, load_persona
from bot.question import clean_question
from bot.retrieve import Filters, HybridRetriever, Retrieval
from bot.scope import INJECTION, MISUSE, Verdict, coverage_gap, judge, with_coverage_note
from bot.snapshot import Snapshot, Watcher, load_snapshot
from core.settings import Settings
from core.vocabulary import vocabulary
from ingest.embed import Embedder

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    history: list[str] = Field(default_factory=list, description="earlier questions in this conversation")
    k: int | None = Field(None, ge=1, le=50)
    filters: Filters = Filters()


class Answerer(Protocol):
    """Turns retrieved evidence into an Answer; the extractive composer and the LLM both fit."""

    mode: str

    def answer(self, question: str, retrieval: Retrieval, composer: Composer) -> Answer: ...


class ExtractiveAnswerer:
    mode = "extractive"

    def answer(self, question: str, retrieval: Retrieval, composer: Composer) -> Answer:
        return composer.compose(question, retrieval)


def abstention(question: str, persona: Persona, verdict: Verdict) -> Answer:
    wording = vocabulary().abstention
    scope = "; ".join(persona.data.scope)
    example = persona.data.example_questions[0] if persona.data.example_questions else ""
    if verdict.reason == INJECTION:
        lead = wording.injection
    elif verdict.reason == MISUSE:
        lead = wording.misuse
    elif verdict.unknown:
        lead = wording.unknown_names.format(names=", ".join(verdict.unknown))
    else:
        lead = wording.not_found
    message = f"{lead}\n\n{wording.covers.format(scope=scope)}"
    if example:
        message += f"\n\n{wording.example.format(example=example)}"
    disclaimer = persona.disclaimer()
    return Answer(question=question, answer=f"{message}\n\n> {disclaimer}", abstained=True,
                  disclaimer=disclaimer, notes=[verdict.reason])


class Bot:
    """Answers many questions from the current index snapshot, with the model and persona loaded once.
    Built by `load_bot`, always with a snapshot: nothing about it is optional once it exists."""

    def __init__(self, settings: Settings, embedder: Embedder, persona: Persona, snapshot: Snapshot,
                 answerer: Answerer | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.persona = persona
        self.answerer: Answerer = answerer or ExtractiveAnswerer()
        self._snapshot = snapshot
        self.watcher: Watcher | None = None  # set by `watch`, which `kb serve` calls

    def watch(self, interval: float) -> Watcher:
        """Follow the index: a newly published version is served within `interval` plus its load time."""
        self.watcher = Watcher(self.settings, self.embedder, self.persona, lambda: self._snapshot, self._swap)
        return self.watcher.start(interval)

    def _swap(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The index version being served (replaced whole by the watcher)."""
        return self._snapshot

    @property
    def corpus(self) -> Corpus:
        return self._snapshot.corpus

    @property
    def retriever(self) -> HybridRetriever:
        return self.snapshot.retriever

    @property
    def composer(self) -> Composer:
        return self.snapshot.composer

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None,
            filters: Filters | None = None) -> Answer:
        request = AskRequest(question=question, history=list(history), k=k, filters=filters or Filters())
        return self._compose(self._retrieve(self._prepare(request)))

    def chain(self) -> Runnable[AskRequest, Answer]:
        from langchain_core.runnables import RunnableLambda

        return RunnableLambda(self._prepare) | RunnableLambda(self._retrieve) | RunnableLambda(self._compose)

    @staticmethod
    def query(question: str, history: Sequence[str] = ()) -> tuple[str, str]:
        """The cleaned question and the retrieval query (merged with the last turns for a follow-up)."""
        cleaned = clean_question(question)
        return cleaned, contextualize(cleaned, [clean_question(h) for h in history if h.strip()][-3:])

    def _prepare(self, request: AskRequest) -> dict[str, Any]:
        question, query = self.query(request.question, request.history)
        # One snapshot for the whole request, even if a newer one is swapped in meanwhile.
        return {"request": request, "question": question, "query": query, "started": time.perf_counter(),
                "snapshot": self.snapshot}

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        request: AskRequest = state["request"]
        snapshot: Snapshot = state["snapshot"]
        state["retrieval"] = snapshot.retriever.search(state["query"], request.k, request.filters)
        state["retrieved"] = time.perf_counter()
        return state

    def _compose(self, state: dict[str, Any]) -> Answer:
        retrieval: Retrieval = state["retrieval"]
        snapshot: Snapshot = state["snapshot"]
        verdict = judge(state["query"], retrieval, snapshot.corpus, self.settings.answer)
        answer = None
        if verdict.answer:
            answer = self.answerer.answer(state["question"], retrieval, snapshot.composer)
            if not answer.points:
                verdict, answer = Verdict(False, "no quotable evidence"), None
            else:
                rows = [h.row for h in retrieval.hits]
                closeness = max(h.dense for h in retrieval.hits)
                answer = with_coverage_note(answer, coverage_gap(state["question"], rows, snapshot.corpus,
                                                                  verdict.unknown, self.settings.answer, closeness))
        if answer is None:
            answer = abstention(state["question"], self.persona, verdict)
        done = time.perf_counter()
        answer.timings_ms = Timings(retrieve=_ms(state["retrieved"] - state["started"]),
                                    compose=_ms(done - state["retrieved"]), total=_ms(done - state["started"]))
        return answer


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def load_bot(settings: Settings, embedder: Embedder, answerer: Answerer | None = None) -> Bot:
    """A bot on the published index version, its model warmed up (the first question pays nothing)."""
    persona = load_persona(settings.persona)
    snapshot = load_snapshot(settings, embedder, persona)
    embedder.embed(["warm up"])
    return Bot(settings, embedder, persona, snapshot, answerer)
