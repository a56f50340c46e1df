from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.chain import Bot, load_bot
from bot.lc_retriever import KBRetriever
from bot.retrieve import Filters, HybridRetriever
from core.settings import Settings
from ingest.pipeline import ingest
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.integration

# Exact codes that the embedding model cannot tell apart, and paraphrases that share no words
# with their answer: each retriever alone misses some, fusion finds all.
FUSION_CASES = [
    ("KX-4711", "KX-4711"), ("KX-5820", "KX-5820"), ("KX-6093", "KX-6093"), ("KX-7342", "KX-7342"),
    ("why is the initial call sluggish", "cold-start-basics.md"),
    ("it takes ages before the very first answer comes back", "cold-start-basics.md"),
]


def _top(bot: Bot, query: str, mode: str) -> str:
    hits = bot.retriever.search(query, 3, mode=mode).hits  # type: ignore[arg-type]
    meta = bot.corpus.metas[hits[0].row] if hits and bot.corpus else {}
    return f"{meta.get('source', '')}#{meta.get('section', '')}"


def test_fusion_beats_either_retriever_alone(fixture_bot: Bot) -> None:
    found = {mode: sum(expected in _top(fixture_bot, q, mode) for q, expected in FUSION_CASES)
             for mode in ("dense", "bm25", "hybrid")}
    assert found["hybrid"] == len(FUSION_CASES)
    assert found["hybrid"] > found["dense"] and found["hybrid"] > found["bm25"], found


@pytest.mark.parametrize(("filters", "check"), [
    (Filters(provider="azure"), lambda m: "azure" in m["providers"]),
    (Filters(kind="template"), lambda m: m["kind"] == "template"),
    (Filters(source="patterns/cost/request-pricing.md"), lambda m: m["source"] == "patterns/cost/request-pricing.md"),
    (Filters(doc_kind="pattern", provider="aws"), lambda m: m["doc_kind"] == "pattern" and "aws" in m["providers"]),
])
def test_filters(fixture_bot: Bot, filters: Filters, check: object) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        # Words every filtered set has, so each retriever must return something the filter allows.
        hits = fixture_bot.retriever.search("retry failed messages dead-letter queue cost per million requests",
                                            8, filters, mode).hits
        assert hits, mode
        assert all(check(fixture_bot.corpus.metas[h.row]) for h in hits), mode  # type: ignore[operator,index]


def test_persona_is_not_an_answer_source(fixture_bot: Bot) -> None:
    hits = fixture_bot.retriever.search("what is out of scope for the test architect, cooking?", 10).hits
    assert all(fixture_bot.corpus.metas[h.row]["doc_kind"] != "persona" for h in hits)  # type: ignore[index]


def test_diversity_caps_chunks_per_section(fixture_bot: Bot) -> None:
    hits = [h for h in fixture_bot.retriever.search("error means", 6).hits if not h.companion]
    sections = [fixture_bot.corpus.metas[h.row]["section"] for h in hits]  # type: ignore[index]
    assert max(sections.count(s) for s in sections) <= 2


def test_prose_brings_its_template_and_template_brings_its_prose(fixture_bot: Bot) -> None:
    corpus = fixture_bot.corpus
    assert corpus is not None
    hits = fixture_bot.retriever.search("SAM template that keeps two environments warm with an alias", 1).hits
    kinds = {corpus.metas[h.row]["kind"] for h in hits}
    assert kinds == {"prose", "template"}
    template = next(h for h in hits if corpus.metas[h.row]["kind"] == "template")
    prose = next(h for h in hits if corpus.metas[h.row]["kind"] == "prose")
    assert corpus.metas[template.row]["parent_id"] == corpus.ids[prose.row]


def test_langchain_retriever_composes_with_lcel(fixture_bot: Bot) -> None:
    retriever = KBRetriever(engine=fixture_bot.retriever, k=2, filters=Filters(provider="aws"))
    chain = retriever | (lambda docs: [d.metadata["source"] for d in docs])
    docs = retriever.invoke("provisioned concurrency billing")
    assert docs and all(isinstance(d, Document) for d in docs)
    assert "cold-start-basics" in docs[0].metadata["source"] and docs[0].metadata["score"] > 0
    assert chain.invoke("provisioned concurrency billing")[0] == docs[0].metadata["source"]


def test_followup_keeps_the_topic_and_switches_provider(fixture_bot: Bot) -> None:
    first = "How many times should a failed SQS message be retried before it goes to the DLQ?"
    answer = fixture_bot.ask("and on Azure?", history=[first])
    assert not answer.abstained
    assert "Service Bus" in answer.points[0]


def _first_section(retriever: HybridRetriever, query: str) -> str:
    hits = retriever.search(query, 3).hits
    return str(retriever.corpus.metas[hits[0].row]["section"])


def test_background_sections_give_way_to_the_answer_unless_the_question_asks_why(fixture_bot: Bot) -> None:
    # The question repeats the Problem section's words; the answer is in Solution.
    how = "What can I do when the first request to a new environment is slow to initialise?"
    why = "Why is the first request slow to initialise?"
    retriever = fixture_bot.retriever
    plain = HybridRetriever(retriever.corpus, retriever.embedder,
                            retriever.settings.model_copy(update={"background_penalty": 0.0}))
    assert _first_section(plain, how).endswith("Problem")  # what the penalty has to overcome
    assert _first_section(retriever, how).endswith("Solution")
    assert _first_section(retriever, why).endswith("Problem")


def test_the_document_a_question_is_about_leads(settings: Settings, embedder: HashingEmbedder) -> None:
    """"idempotent" names the topic: the idempotency document leads, although a queue document uses
    the question's other words (SQS, consumer) more."""
    kb = settings.sources[0]
    (kb / "idempotency.md").write_text(
        "# Idempotent handlers with idempotency keys\n\n## Solution\n\nAn idempotent handler stores a key per "
        "request in a table with a conditional write and returns the stored result when the key comes again.\n")
    (kb / "queues.md").write_text(
        "# Queue consumers on SQS\n\n## Solution\n\nAn SQS consumer reads batches from the SQS queue; make the "
        "SQS consumer idempotent because SQS delivers each message at least once to the consumer.\n\n"
        "## Batches\n\nThe SQS consumer deletes each message after the consumer has processed it.\n")
    for name in ("dead-letters", "visibility", "batching"):
        (kb / f"{name}.md").write_text(f"# SQS {name}\n\n## Solution\n\nAn SQS consumer and its {name}: the "
                                       "queue settings an SQS consumer depends on.\n")
    ingest(settings, embedder)
    retriever = load_bot(settings, embedder).retriever
    question = "How do I make an SQS consumer idempotent?"
    plain = HybridRetriever(retriever.corpus, retriever.embedder,
                            retriever.settings.model_copy(update={"topic_bonus": 0.0, "topic_rerank": 0.0}))
    assert _first_source(plain, question) == "queues.md"  # what the topic bonus has to overcome
    assert _first_source(retriever, question) == "idempotency.md"


def _first_source(retriever: HybridRetriever, query: str) -> str:
    return str(retriever.corpus.metas[retriever.search(query, 3).hits[0].row]["source"])


def test_a_split_section_brings_its_other_part(settings: Settings, embedder: HashingEmbedder) -> None:
    """The part of a section that states the figure comes along with the part that was retrieved."""
    bullets = "".join(f"- Queue note {n}: consumers poll the queue and scale with the backlog depth.\n"
                      for n in range(3))
    (settings.sources[0] / "queues.md").write_text(
        "# Queues\n\n## Cost notes\n\n- A standard queue costs about $0.40 per million requests.\n" + bullets)
    ingest(settings, embedder)
    retriever = load_bot(settings, embedder).retriever
    corpus = retriever.corpus
    parts = [r for r in range(len(corpus.ids)) if corpus.metas[r]["section"] == "Queues > Cost notes"]
    assert len(parts) == 2, "the fixture section must be split in two for this test to mean anything"
    priced = next(r for r in parts if "$0.40" in corpus.texts[r])
    hits = retriever.search("how do consumers poll and scale with backlog depth", 1).hits
    assert hits[0].row != priced
    assert priced in {h.row for h in hits if h.companion}


def test_a_document_brings_its_closest_section_that_the_caps_left_out(settings: Settings,
                                                                      embedder: HashingEmbedder) -> None:
    """One hit per document: the queue document's section on message groups (how the order is kept)
    still comes along, as a low-scored companion after every ranked hit, so its sentence can be a point."""
    (settings.sources[0] / "queues.md").write_text(
        "# FIFO queues\n\n## Ordering\n\nA FIFO queue keeps messages in order for each customer.\n\n"
        "## Message groups\n\nMessages of one customer share a message group id; different customers "
        "are processed in parallel.\n\n## Billing\n\nA FIFO queue bills each request.\n")
    (settings.sources[0] / "topics.md").write_text(
        "# Topics\n\n## Fan-out\n\nA topic copies each message to every subscribed queue in parallel.\n")
    ingest(settings, embedder)
    bot = load_bot(settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"max_per_document": 1, "k": 2})}), embedder)
    corpus = bot.corpus
    question = "How does a FIFO queue keep the messages of each customer in order?"
    hits = bot.retriever.search(question).hits
    sections = [(corpus.metas[h.row]["section"], h.companion) for h in hits]
    assert ("FIFO queues > Message groups", False) not in sections, "the cap must leave it out, or this means nothing"
    extra = [h for h in hits if h.companion and corpus.metas[h.row]["section"] == "FIFO queues > Message groups"]
    assert extra and extra[0].score < min(h.score for h in hits if not h.companion)
    off = bot.retriever.settings.model_copy(update={"section_documents": 0})
    assert not any(h.companion for h in HybridRetriever(corpus, embedder, off).search(question).hits)


def test_a_left_out_section_is_as_close_as_its_closest_sentence(settings: Settings,
                                                                 embedder: HashingEmbedder) -> None:
    """A section of bullets answers in one of them: it comes along before a short section whose
    whole text is closer to the question but says nothing to it."""
    (settings.sources[0] / "queues.md").write_text(
        "# FIFO queues\n\n## Ordering\n\nA FIFO queue keeps the messages of each customer in order.\n\n"
        "## Billing\n\nThe bill counts every queue request.\n\n"
        "## Operational notes\n\n- Dashboards chart metric 0 for every region and every stage of the pipeline.\n"
        "- A stuck message group unblocks when its poison message moves to the dead-letter queue.\n")
    ingest(settings, embedder)
    bot = load_bot(settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"max_per_document": 1, "k": 1, "sections_per_document": 1})}), embedder)
    corpus, retriever = bot.corpus, bot.retriever
    question = "How does a FIFO queue keep each customer in order when a message group is stuck?"
    hits = retriever.search(question).hits
    assert corpus.metas[hits[0].row]["section"] == "FIFO queues > Ordering", "the fixture's hit must be Ordering"

    def companion(retriever: HybridRetriever) -> str:
        rows = [h.row for h in retriever.search(question).hits if h.companion]
        return str(corpus.metas[rows[0]]["section"]).split(" > ")[-1] if rows else ""

    whole = HybridRetriever(corpus, embedder, retriever.settings.model_copy(update={"sections_by_sentence": False}))
    assert companion(whole) == "Billing", "by whole vectors the short section is closer, or this means nothing"
    assert companion(retriever) == "Operational notes"


def test_a_long_question_keeps_bm25_matches_on_a_few_of_its_words(settings: Settings,
                                                                   embedder: HashingEmbedder) -> None:
    """A whole spec in one question (26 content words) still finds the chunk that shares nine of them."""
    (settings.sources[0] / "worker.md").write_text(
        "# Worker\n\n## Worker setup\n\nThe setup declares the queue worker, its dead letter queue, the nightly "
        "schedule and provisioned instances for production.\n")
    (settings.sources[0] / "other.md").write_text("# Other\n\n## Notes\n\nUnrelated notes about colour palettes.\n")
    ingest(settings, embedder)
    retriever = load_bot(settings, embedder).retriever
    question = ("show me a stack file where production gets provisioned instances, development none, a queue "
                "worker whose failing messages reach a dead letter queue after three attempts, and a nightly "
                "cleanup schedule at two in the morning with alerts to the team channel")
    found = {retriever.corpus.metas[row]["source"] for row, _ in retriever.lexical(question, 5, Filters())}
    assert "worker.md" in found
    strict = retriever.settings.model_copy(update={"max_should_match": 100})
    assert not HybridRetriever(retriever.corpus, embedder, strict).lexical(question, 5, Filters())
