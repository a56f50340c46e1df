"""The hybrid retriever as a LangChain retriever, so it composes with LCEL.

Its own module because importing langchain_core.retrievers costs a third of a second, which a
one-shot `kb ask` should not pay for an adapter it does not use.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from bot.retrieve import Filters, HybridRetriever, Mode


class KBRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain retriever, so it composes with LCEL."""

    engine: Any
    k: int = 6
    filters: Filters = Filters()
    mode: Mode = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        engine: HybridRetriever = self.engine
        retrieval = engine.search(query, self.k, self.filters, self.mode)
        corpus = engine.corpus
        return [
            Document(page_content=corpus.texts[h.row], id=corpus.ids[h.row],
                     metadata={**corpus.metas[h.row], "score": h.score, "dense": h.dense, "lexical": h.lexical,
                               "companion": h.companion})
            for h in retrieval.hits
        ]
