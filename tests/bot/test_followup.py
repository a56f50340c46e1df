from __future__ import annotations

import pytest

from bot.followup import contextualize, is_followup

PREVIOUS = "When does it make sense to run our order process as a Step Functions workflow?"


@pytest.mark.parametrize("question", [
    "what about the cost of that?",
    "roughly what would that cost at a million orders a month?",
    "does this still work if the queue is a FIFO queue with message groups?",
    "could you show me the Terraform and the SAM template for that?",
    "can they share one dependency layer across all the functions in the stack?",
])
def test_a_question_that_points_back_is_a_followup_whatever_its_length(question: str) -> None:
    assert is_followup(question)
    assert contextualize(question, [PREVIOUS]) == f"{PREVIOUS} {question}"


@pytest.mark.parametrize("question", [
    "Is it possible to run a Lambda function inside a VPC without a NAT gateway?",
    "The problem is that Lambda times out after 15 minutes, what should I use?",
    "How do I make sure that only signed code is deployed to production?",
    "Should I use SQS so that the producer does not wait for the consumer?",
    "What would that mean for a function that runs for fifteen minutes behind an API Gateway REST API with a WAF?",
])
def test_a_question_with_its_own_topic_stands_alone(question: str) -> None:
    """"that" as a conjunction, "it" as a placeholder, or a long question: nothing to merge."""
    assert not is_followup(question)
    assert contextualize(question, [PREVIOUS]) == question


def test_a_followup_to_a_followup_keeps_the_first_topic() -> None:
    history = ["How do I retry failed SQS messages with a dead-letter queue?", "and on Azure?"]
    query = contextualize("what would that cost?", history)
    assert "retry failed" in query and "dead-letter queue" in query  # the topic, from two turns back
    assert "Azure" in query and "SQS" not in query  # ...on the provider the second turn switched to
    assert query.endswith("what would that cost?")


def test_a_new_topic_ends_the_chain() -> None:
    history = ["How do I retry failed SQS messages with a dead-letter queue?", "and on Azure?",
               "How should I size DynamoDB partition keys for a multi-tenant table?"]
    query = contextualize("what would that cost?", history)
    assert query.startswith("How should I size DynamoDB") and "retry" not in query
