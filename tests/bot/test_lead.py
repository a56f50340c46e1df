"""The answer opens with the best evidence: the top hit, whether prose, a table row or a template."""

from __future__ import annotations

from typing import Any

import pytest

from bot.answer import Answer
from bot.compose import Composer, tidy
from bot.corpus import Corpus, Sentence
from bot.retrieve import Hit, Retrieval
from core.providers import providers_in
from core.settings import AnswerSettings
from core.text_units import sentence_spans
from ingest.tables import row_spans
from tests.bot.test_compose import EMBEDDER, PERSONA


def _corpus(chunks: list[tuple[str, str, str, str]]) -> Corpus:
    """(id, kind, section, text) rows; templates point at the prose row before them."""
    ids, texts, metas = [], [], []
    last_prose = ""
    for i, (chunk_id, kind, section, text) in enumerate(chunks):
        ids.append(chunk_id)
        texts.append(text)
        meta: dict[str, Any] = {"kind": kind, "source": f"{section.split(' > ')[0].lower()}.md",
                                "title": section.split(" > ")[0], "section": section, "anchor": "a",
                                "start_line": i + 1, "end_line": i + 2,
                                "language": "yaml" if kind == "template" else "",
                                "parent_id": last_prose if kind == "template" else "",
                                "providers": list(providers_in(f"{section}\n{text}"))}  # tagged as ingest does
        metas.append(meta)
        if kind == "prose":
            last_prose = chunk_id
    # As ingest stores them: a sentence per prose sentence and per table row, each with its own vector.
    spans = {"prose": sentence_spans, "table": row_spans}
    sentences = [Sentence(row, a, b, texts[row][a:b]) for row, m in enumerate(metas) if m["kind"] in spans
                 for a, b in spans[m["kind"]](texts[row])]
    return Corpus(ids, texts, metas, EMBEDDER.embed(texts), sentences, EMBEDDER.embed([s.text for s in sentences]),
                  "fp")


def _retrieval(corpus: Corpus, question: str, order: list[str]) -> Retrieval:
    hits = [Hit(corpus.row[i], 1.0 / (61 + rank), 0.5, 1.0, rank) for rank, i in enumerate(order)]
    return Retrieval(question, EMBEDDER.embed([question])[0], hits)


def _answer(corpus: Corpus, question: str, order: list[str], settings: AnswerSettings | None = None) -> Answer:
    composer = Composer(corpus, PERSONA, settings or AnswerSettings())
    return composer.compose(question, _retrieval(corpus, question, order))


def _without_and_with(corpus: Corpus, question: str, order: list[str], off: AnswerSettings) -> tuple[Answer, Answer]:
    """The answer with a rule switched off (`off`), then with the default settings."""
    retrieval = _retrieval(corpus, question, order)
    without = Composer(corpus, PERSONA, off).compose(question, retrieval)
    return without, Composer(corpus, PERSONA, AnswerSettings()).compose(question, retrieval)


CORPUS = _corpus([
    ("overview", "prose", "Queues > Overview", "Queues decouple producers from consumers in most systems. "
                                               "Queues retry failed messages for a while."),
    ("dlq", "prose", "Dead letters > Solution", "Set maxReceiveCount to five on the source queue. "
                                                "Alarm when the dead-letter queue depth is above zero."),
    ("sam", "template", "Dead letters > Templates > SAM queue with redrive",
     "# Orders queue with a DLQ\nResources:\n  Dlq:\n    Type: AWS::SQS::Queue\n"),
    ("limits", "table", "Lambda > Key limits", "| Limit | Value |\n|---|---|\n| Timeout | 1 to 900 seconds |\n"
                                               "| Memory | 128 to 10,240 MB |"),
])


def test_the_top_hit_is_point_one_even_when_other_sentences_match_more_words() -> None:
    question = "queues retry failed messages consumers producers"
    answer = Composer(CORPUS, PERSONA, AnswerSettings()).compose(question, _retrieval(CORPUS, question,
                                                                                     ["dlq", "overview"]))
    assert answer.citations[0].section == "Dead letters > Solution"
    assert answer.points[0].endswith("[1]")
    assert [c.section for c in answer.citations] == ["Dead letters > Solution", "Queues > Overview"][
        : len(answer.citations)], "numbered in evidence order"


def test_a_template_on_top_opens_the_answer_and_is_attached() -> None:
    question = "give me a SAM template for a queue with a DLQ"
    answer = Composer(CORPUS, PERSONA, AnswerSettings()).compose(question, _retrieval(CORPUS, question,
                                                                                     ["sam", "dlq"]))
    assert answer.points[0].startswith("SAM queue with redrive (yaml template)")
    assert "defines AWS::SQS::Queue" in answer.points[0] and answer.points[0].endswith("[1]")
    assert answer.templates[0].n == 1 and answer.templates[0].code == CORPUS.texts[CORPUS.row["sam"]]


def test_a_table_row_answers_a_limits_question() -> None:
    question = "What is the maximum timeout of a Lambda function?"
    answer = Composer(CORPUS, PERSONA, AnswerSettings()).compose(question, _retrieval(CORPUS, question,
                                                                                     ["limits", "overview"]))
    assert answer.points[0] == "Timeout: 1 to 900 seconds (Key limits). [1]"
    assert answer.citations[0].kind == "table"
    # The table chunk starts at line 4 (its header; the fixture's end lines are nominal); Timeout is its third line.
    assert answer.citations[0].rows == [6], "the quoted row's own line"
    assert answer.citations[0].location == "lambda.md:4-5, row at line 6"


def test_a_limits_row_for_the_variant_asked_about_not_its_sibling() -> None:
    corpus = _corpus([
        ("flows", "table", "Workflows > Limits", "| Limit | Value | Notes |\n|---|---|---|\n"
         "| Maximum duration, Standard workflows | 1 year | Suits approvals that wait two days or more |\n"
         "| Maximum duration, Express workflows | 5 minutes | Suits short event processing |"),
    ])
    question = "can an express workflow wait two days for approvals?"
    answer = _answer(corpus, question, ["flows"])
    assert answer.points[0].startswith("Maximum duration, Express workflows: 5 minutes")
    assert not any("1 year" in point for point in answer.points), "Standard's row answers another question"


def test_citations_carry_the_stored_spans_their_points_quote() -> None:
    """Highlighting is exact: each citation lists where in its text the quoted points are, from the
    sentence spans stored at ingest (and a table row's own span), not re-found by the renderer."""
    question = "queues retry failed messages consumers producers"
    answer = Composer(CORPUS, PERSONA, AnswerSettings()).compose(question, _retrieval(CORPUS, question,
                                                                                     ["dlq", "overview"]))
    for citation in answer.citations:
        quoted = [citation.text[a:b] for a, b in citation.quoted]
        points = [p.removesuffix(f" [{citation.n}]") for p in answer.points if p.endswith(f" [{citation.n}]")]
        assert quoted and len(quoted) == len(points), "every point of this source has its span"
        tidied = [tidy(text) for text in quoted]
        assert all(any(p == t or p.endswith(f": {t}") for t in tidied) for p in points), "a label may come first"


# A tenant question's lead, a queue sentence that shares only "request body" with it, and the problem.
TENANT_ROWS = [
    ("tenants", "prose", "Tenants > Solution", "Read the tenant id from the verified token claims. "
                                               "Never trust a tenant id sent in the request body."),
    ("fifo", "prose", "Fifo > Solution", "A send to a FIFO queue fails when the request body has no "
                                         "deduplication id. The request is retried by the sender."),
    ("spoof", "prose", "Tenants > Problem", "A caller can claim another tenant when the body names it."),
]


def test_no_padding_from_a_document_that_never_names_what_was_asked() -> None:
    corpus = _corpus(TENANT_ROWS)
    question = "where should the function get the tenant id from instead of the request body?"
    padded, answer = _without_and_with(corpus, question, ["tenants", "fifo", "spoof"], AnswerSettings(focus_terms=0))
    assert "fifo.md" in {c.source for c in padded.citations}, "without the rule the queue sentence pads the answer"
    assert {c.source for c in answer.citations} == {"tenants.md"}
    assert len(answer.points) >= 2


def test_a_rare_word_of_the_lead_alone_does_not_decide_what_was_asked() -> None:
    """"archive" is rarer than "storage", and the lead names it; but the next hits, which hold the
    figure asked for, do not: the word is the lead's, not the question's."""
    corpus = _corpus([
        ("objects", "prose", "Objects > Large objects", "Raise the scratch storage only when archive tools need "
                                                        "real files on disk."),
        ("limits", "prose", "Limits > Storage", "Scratch storage is 512 MB by default and can be raised to "
                                                "10,240 MB per function."),
        ("memory", "prose", "Memory > Sizing", "Scratch storage beyond the default is billed per GB-second."),
        ("zip", "prose", "Packaging > Archive", "An archive resource zips the source folder."),
    ])
    corpus.topic_terms.add("archiv")
    question = "is scratch storage big enough to unpack a 3 GB archive, or can it be raised?"
    alone, answer = _without_and_with(corpus, question, ["objects", "limits", "memory", "zip"],
                                      AnswerSettings(focus_quorum=0))
    assert "limits.md" not in {c.source for c in alone.citations}, "the lead's word alone filters the figure out"
    assert any("10,240 MB" in point for point in answer.points)


def test_a_sentence_in_the_first_person_is_a_voice_not_a_point() -> None:
    corpus = _corpus([
        ("voice", "prose", "Queues > Habits", "Before writing any consumer, I check the queue depth alarms. "
                                              "The queue depth alarm fires when messages wait longer than a minute."),
    ])
    question = "when does the queue depth alarm fire for waiting messages?"
    answer = _answer(corpus, question, ["voice"])
    assert answer.points and not any(" I check" in point for point in answer.points)
    assert any("fires when messages wait" in point for point in answer.points)


NOT_POINTS = [  # (section text, question, a point that must stay, what must not be a point, why)
    ("- [Queue depth alarms done the right way](https://example.com/alarms)\n"
     "- The queue depth alarm fires when messages wait longer than a minute.",
     "queue depth alarms: when do they fire?", "fires when messages wait", "right way",
     "a line of links names a page and claims nothing"),
    ("- Example 3: Multi-Region Queue Disaster Recovery\n- Queue Kinds: Standard Queues, FIFO Queues\n"
     "- Queue depth alarms fire when messages wait longer than a minute.",
     "queue disaster recovery, queue kinds and queue depth alarms", "Standard Queues, FIFO Queues", "Example 3",
     "a title claims nothing; a list of names (with commas) answers 'which'"),
    ("- [ ] Is every queue consumer idempotent?\n"
     "- Queue consumers must be idempotent because a message can arrive twice.",
     "do queue consumers need to be idempotent?", "can arrive twice", "Is every queue consumer",
     "a checklist's question asks, it does not tell"),
    ("This reference sheet lists the queue limits that shape consumer design. "
     "A queue message can be up to 1 MiB, and larger payloads go to storage.",
     "how large can a queue message be, and what are the queue limits?", "up to 1 MiB", "reference sheet lists",
     "a sentence about its own page says what the page covers"),
    ("Tip: All examples shared in this documentation are available within the project repository. "
     "Read more about queue depth alarms in the alarms guide. "
     "Queue depth alarms fire when messages wait longer than a minute.",
     "where are the queue depth alarm examples and when do the alarms fire?", "fire when messages wait",
     "examples shared", "a pointer to further reading sends the reader elsewhere"),
    ("Read more about queue depth alarms in the alarms guide. "
     "Queue depth alarms fire when messages wait longer than a minute.",
     "read more about queue depth alarms: when do they fire?", "fire when messages wait", "Read more",
     "a pointer to further reading sends the reader elsewhere"),
    ("graph LR Dev[Development queue] --> Review[Review queue] --> Release[Release queue]\n\n"
     "Each queue hands its messages to the next stage when the checks pass.",
     "how do the queue stages hand over messages?", "hands its messages", "-->",
     "diagram source draws, it does not tell"),
]


@pytest.mark.parametrize(("text", "question", "kept", "dropped", "why"), NOT_POINTS)
def test_what_claims_nothing_is_not_a_point(text: str, question: str, kept: str, dropped: str, why: str) -> None:
    answer = _answer(_corpus([("only", "prose", "Queues > Notes", text)]), question, ["only"])
    assert any(kept in point for point in answer.points)
    assert not any(dropped in point for point in answer.points), why


def test_a_code_request_naming_a_language_gets_that_language_from_the_hit_documents() -> None:
    corpus = _corpus([
        ("setup", "prose", "Batch > Setup", "Partial batch responses need the queue, a dead-letter queue and an "
                                            "event source with ReportBatchItemFailures."),
        ("py", "template", "Batch > Setup > Handler", "from tools import process\n\ndef handler(event, context):\n"
                                                      "    return process(event)\n"),
        ("sam", "template", "Batch > Setup > SAM resources", "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
                                                             "  Dlq:\n    Type: AWS::SQS::Queue\n"),
    ])
    corpus.metas[1]["language"] = "python"
    question = "show me the SAM side of partial batch responses: queue, DLQ and event source"
    retrieval = _retrieval(corpus, question, ["setup", "py"])
    answer = Composer(corpus, PERSONA, AnswerSettings()).compose(question, retrieval)
    assert "yaml" in [t.language for t in answer.templates], "SAM asks for YAML, which the document has"
    assert {c.n for c in answer.citations} >= {t.n for t in answer.templates}, "a template is cited like any source"
    off = AnswerSettings(hinted_template_documents=0, code_lead_documents=0)
    unhinted = Composer(corpus, PERSONA, off).compose(question, retrieval)
    assert "yaml" not in [t.language for t in unhinted.templates]


# A document whose code sits under its own Templates heading, apart from the prose that ranks first.
ORDERS = _corpus([
    ("problem", "prose", "Order workflow > Problem", "Order steps fail halfway and leave payments without shipments."),
    ("asl", "template", "Order workflow > Templates > ASL with Retry and Catch",
     '{"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Retry": [], "End": true}}}'),
    ("tradeoffs", "prose", "Order workflow > Trade-offs", "Standard workflows cost more per step than Express "
                                                         "workflows. Express workflows stop after five minutes."),
    ("other", "prose", "Choreography > Solution", "Services react to each other's events without a conductor."),
])
ORDERS.metas[ORDERS.row["asl"]]["language"] = "json"


def test_a_request_to_be_shown_code_opens_with_the_template_of_the_topic_document() -> None:
    question = "Standard or Express workflows? can you show me the ASL for that?"
    answer = _answer(ORDERS, question, ["tradeoffs", "other"])
    assert answer.citations[0].section == "Order workflow > Templates > ASL with Retry and Catch"
    assert answer.points[0].endswith("[1]") and "json" in answer.points[0]
    assert [t.n for t in answer.templates][:1] == [1], "the template is attached as the cited [1]"
    assert "Order workflow > Trade-offs" in [c.section for c in answer.citations], "the top hit is still cited"


def test_code_named_without_asking_for_it_keeps_the_prose_lead() -> None:
    question = "why does the ASL of our Standard workflow cost more than Express?"
    answer = _answer(ORDERS, question, ["tradeoffs", "other"])
    assert answer.citations[0].section == "Order workflow > Trade-offs"


def test_a_request_for_a_language_the_documents_lack_keeps_the_prose_lead() -> None:
    question = "show me the Terraform for the order workflow"
    answer = _answer(ORDERS, question, ["tradeoffs", "other"])
    assert answer.citations[0].section == "Order workflow > Trade-offs"
    switched_off = _answer(ORDERS, "show me the ASL for the order workflow", ["tradeoffs", "other"],
                           AnswerSettings(code_lead_documents=0))
    assert switched_off.citations[0].section == "Order workflow > Trade-offs"


PROCEDURE = _corpus([
    ("steps", "prose", "Tenants > Solution > Row-level isolation",
     "1. Prefix every partition key of the shared table with the tenant id and a delimiter.\n"
     "2. Give the tenant role a LeadingKeys condition on the tenant tag of the session.\n"
     "3. Assume the tenant role with a session tag for each request.\n"
     "4. Use those temporary credentials for all data access, so a wrong key is denied."),
    ("pooled", "prose", "Tenants > Problem", "A shared table keeps every tenant's data in one place. "
                                             "One missing tenant filter in a shared table query exposes data."),
    ("single", "prose", "Tables > Solution", "Store related items of the shared table under one partition key."),
])
TENANT_HITS = ["steps", "pooled", "single"]


def test_a_how_to_question_led_by_a_procedure_gets_its_steps_in_order() -> None:
    question = "How do I isolate tenant data in a shared table?"
    without, answer = _without_and_with(PROCEDURE, question, TENANT_HITS, AnswerSettings(procedure_steps=0))
    steps = [p for p in answer.points if p.startswith("Step ")]
    assert [p.split(":")[0] for p in steps] == ["Step 1", "Step 2", "Step 3", "Step 4"]
    assert answer.points[:4] == steps and all(p.endswith("[1]") for p in steps)
    assert "Use those temporary credentials" in steps[3]
    assert not any(p.startswith("Step ") for p in without.points)  # the best step and sentences elsewhere
    assert sum("[1]" in p for p in without.points) < 4, "the rule must change the answer for this to mean anything"


def test_other_questions_on_a_procedure_get_no_steps() -> None:
    answer = _answer(PROCEDURE, "What is a shared table for tenants?", TENANT_HITS)
    assert not any(p.startswith("Step ") for p in answer.points)


def test_a_how_long_question_gets_the_row_that_names_a_duration() -> None:
    """"Longest ... stay open" shares no word with "Maximum execution duration" but asks for one."""
    corpus = _corpus([
        ("flows", "table", "Workflows > Limits", "| Limit | Value |\n|---|---|\n"
         "| Open executions per account | 1,000,000 per Region |\n"
         "| Maximum execution duration | 1 year |"),
    ])
    answer = _answer(corpus, "What's the longest an execution can stay open?", ["flows"])
    assert answer.points[0] == "Maximum execution duration: 1 year (Limits). [1]"


def test_a_limits_table_below_a_sentence_about_the_limit_is_cited_first() -> None:
    """The figure itself beats a sentence about it: the table row opens the answer as [1], though
    retrieval ranked the table second."""
    question = "What is the maximum timeout of a Lambda function in seconds?"
    answer = _answer(CORPUS, question, ["overview", "limits"])
    assert answer.points[0] == "Timeout: 1 to 900 seconds (Key limits). [1]"
    assert answer.citations[0].kind == "table" and answer.citations[1].section == "Queues > Overview"


def test_a_request_to_be_shown_code_outranks_a_matching_limits_table() -> None:
    corpus = _corpus([
        ("quotas", "table", "Queues > Quotas",
         "| Limit | Value |\n|---|---|\n| SAM queue DLQ redrives | 10 per queue |"),
        ("dlq", "prose", "Dead letters > Solution", "Set maxReceiveCount to five on the source queue."),
        ("sam", "template", "Dead letters > Templates > SAM queue with redrive",
         "# Orders queue with a DLQ\nResources:\n  Dlq:\n    Type: AWS::SQS::Queue\n"),
    ])
    question = "show me a SAM template for a queue with a DLQ: what does it cost?"
    answer = _answer(corpus, question, ["quotas", "dlq", "sam"])
    assert answer.citations[0].section == "Dead letters > Templates > SAM queue with redrive"
    assert [t.n for t in answer.templates][:1] == [1]


def test_a_diagram_on_top_gives_way_to_the_prose_it_brought_along() -> None:
    corpus = _corpus([
        ("flow", "prose", "Batch > Flow", "Each record is handled by its own invocation, one after another."),
        ("diagram", "template", "Batch > Flow > Diagram", "sequenceDiagram\n  A->>B: record\n  B-->>A: result"),
        ("other", "prose", "Queues > Overview", "Queues decouple producers from consumers in most systems."),
    ])
    corpus.metas[corpus.row["diagram"]]["language"] = "mermaid"
    question = "how are the records of a batch handled?"
    hits = [Hit(corpus.row["diagram"], 0.03, 0.5, 1.0, 0), Hit(corpus.row["other"], 0.02, 0.5, 1.0, 1),
            Hit(corpus.row["flow"], 0.01, 0.5, 1.0, 0, companion=True)]
    answer = Composer(corpus, PERSONA, AnswerSettings()).compose(
        question, Retrieval(question, EMBEDDER.embed([question])[0], hits))
    assert answer.citations[0].section == "Batch > Flow", "the diagram's section, not the next hit"


def test_a_rarer_question_word_the_lead_lacks_does_not_switch_the_focus_off() -> None:
    """"switch" names a topic ("Budget kill-switch") and is rarer than "tenant", but the lead does not
    name it: the answer is still about tenants, and the queue sentence still does not pad it."""
    corpus = _corpus([*TENANT_ROWS, ("kill", "prose", "Budget kill-switch > Solution",
                                     "Stop spending when the budget alarm fires.")])
    assert "switch" in corpus.topic_terms and "kill" not in corpus.topic_terms, "a hyphenated word names its head"
    question = "where should the function get the tenant id from instead of the request body, and can we switch later?"
    answer = _answer(corpus, question, ["tenants", "fifo", "spoof"])
    assert {c.source for c in answer.citations} == {"tenants.md"}


def test_a_question_naming_a_provider_gets_no_points_about_only_another() -> None:
    """An answer about Lambda's timeout is padded, not helped, by Cloud Run's."""
    corpus = _corpus([
        ("lambda", "prose", "Timeouts > Solution", "A Lambda function times out after at most 900 seconds. "
                                                   "Set the function timeout below the caller's timeout."),
        ("budgets", "prose", "Budgets > Platform limits", "Cloud Run services time out after at most 60 minutes. "
                                                          "Every timeout should leave room for a retry."),
    ])
    question = "what is the longest timeout a Lambda function can have?"
    padded, answer = _without_and_with(corpus, question, ["lambda", "budgets"], AnswerSettings(other_providers=True))
    assert any("Cloud Run" in point for point in padded.points), "without the rule Cloud Run's figure pads it"
    assert not any("Cloud Run" in point for point in answer.points)
    assert any("leave room for a retry" in point for point in answer.points), "a point naming no provider stays"
    assert any("Cloud Run" in point for point in _answer(corpus, "timeouts of Lambda and Cloud Run?",
                                                         ["lambda", "budgets"]).points), "both asked: both kept"


def test_a_row_shares_the_question_words_of_its_own_cells_not_of_its_heading() -> None:
    """Every row of "Lambda function limits" carries its heading's words; the thread limit does not answer a
    question about the function timeout because of them."""
    corpus = _corpus([
        ("limits", "table", "Lambda > Lambda function limits", "| Limit | Value |\n|---|---|\n"
         "| Maximum timeout | 900 seconds |\n| Processes and threads | 1,024 |"),
        ("design", "prose", "Design > Solution", "Keep the Lambda function timeout below the caller's timeout. "
                                                 "Alarm on function errors."),
    ])
    answer = _answer(corpus, "What is the maximum timeout of a Lambda function?", ["limits", "design"])
    assert answer.points[0].startswith("Maximum timeout: 900 seconds")
    assert not any("threads" in point for point in answer.points)


def test_a_code_request_naming_a_provider_gets_no_template_for_another() -> None:
    """Dead-lettering on Pub/Sub: the Service Bus template that shares the words is another cloud's."""
    corpus = _corpus([
        ("deadletters", "prose", "Dead letters > Solution", "Route messages that keep failing to a dead-letter "
                                                            "destination and alarm on its depth."),
        ("servicebus", "template", "Dead letters > Templates > Service Bus topic with dead-lettering",
         "# A subscription that dead-letters after 5 deliveries, on Azure Service Bus\nmaxDeliveryCount: 5\n"),
        ("pubsub", "template", "Dead letters > Templates > Pub/Sub subscription with a dead-letter topic",
         "# Pub/Sub push subscription with a dead-letter topic\nmax_delivery_attempts: 5\n"),
    ])
    question = "give me a template for a Pub/Sub subscription that dead-letters after 5 deliveries"
    order = ["deadletters", "servicebus", "pubsub"]
    anywhere, answer = _without_and_with(corpus, question, order, AnswerSettings(other_providers=True))
    assert any("Service Bus" in t.section for t in anywhere.templates), "without the rule Azure's template comes"
    assert [t.section.split(" > ")[-1] for t in answer.templates] == ["Pub/Sub subscription with a dead-letter topic"]
