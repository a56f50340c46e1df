"""Question shapes and template descriptions."""

from __future__ import annotations

import numpy as np
import pytest

from bot.corpus import Corpus
from bot.shape import asks_to_be_shown, classify, describe_template, label_for, leading_comment, role_bonus, shape_bonus


def test_question_shapes() -> None:
    assert classify("Standard or Express workflows for a 2-minute job: which should I pick?").kind == "compare"
    assert classify("Why does my Lambda keep timing out when calling DynamoDB?").kind == "troubleshoot"
    assert classify("How much does an HTTP API cost per million requests?").kind == "cost"
    assert classify("What's the maximum timeout I can set on a Lambda function?").kind == "cost", "a limit, not a bug"
    assert classify("Our API is slow and times out under load").kind == "troubleshoot"
    assert classify("How do I add a DLQ to my queue?").kind == "how_to"
    assert classify("How can I keep each customer's messages in order?").kind == "how_to", "keep is not a symptom"
    assert classify("If the shipping call fails, how do I undo the earlier steps?").kind == "how_to"
    assert classify("Our consumer keeps failing on one message").kind == "troubleshoot"
    assert classify("give me a SAM template for an SQS consumer").code
    assert classify("write a handler that validates the body").kind == "code"
    assert not classify("What is a dead-letter queue?").code


def test_a_question_about_how_code_behaves_is_not_a_request_for_code() -> None:
    assert not classify("can an express state machine wait two days for an approval?").code
    assert not classify("where should the lambda handler get the tenant id from?").code
    assert classify("can you show me the handler for that?").code, "asked to be shown"
    assert classify("is there an example SAM template for a FIFO queue?").code


def test_a_request_verb_counts_only_when_it_addresses_someone() -> None:
    for asked in ("can you show the Terraform for it?", "Show the ASL for the order workflow",
                  "show me the SAM side", "write a handler that validates the body", "give me the IAM policy"):
        assert asks_to_be_shown(asked), asked
    for told in ("my helper module's logs never show up in CloudWatch",
                 "how do I get Cloud Run JSON logs to show the right severity?",
                 "what write throughput does one partition key get?"):
        assert not asks_to_be_shown(told), told


def test_a_choice_between_two_named_options_is_a_comparison() -> None:
    assert classify("Lambda or Fargate for a transcoding job that runs about 40 minutes?").kind == "compare"
    assert classify("sqs standard or fifo for order events?").kind == "compare"
    assert classify("should we use SNS or EventBridge to fan out order events").kind == "compare"
    assert classify("Before we log or forward a payload, how do I mask the email?").kind == "how_to", "a sequence"


def test_asking_for_the_catch_wants_the_trade_offs() -> None:
    for question in ("Is SnapStart the answer, and what's the catch?", "any downsides to provisioned concurrency?",
                     "What do we give up with Express workflows?"):
        assert classify(question).kind == "compare", question
    assert classify("how do I catch errors in a Step Functions task?").kind != "compare", "catching is not a catch"


def test_role_bonus_prefers_the_section_in_the_wanted_role() -> None:
    compare = classify("Should I choose Standard or Express?")
    assert role_bonus(compare, "Step Functions > Trade-offs") == 1.0
    assert role_bonus(compare, "Step Functions > Trade-offs > Details") == 0.5
    assert role_bonus(compare, "Step Functions > Problem") == 0.0


def test_a_template_is_described_from_its_own_code() -> None:
    code = ("# Orders queue with a dead-letter queue\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
            "  Dlq:\n    Type: AWS::SQS::Queue\n  Fn:\n    Type: AWS::Serverless::Function\n")
    metas = [{"section": "DLQs > Templates > SAM queue with redrive", "language": "yaml", "kind": "template",
              "source": "a.md", "title": "DLQs"}]
    corpus = Corpus(["t"], [code], metas, np.zeros((1, 4), np.float32), [], np.zeros((0, 4), np.float32), "f")
    text = describe_template(corpus, 0)
    assert text.startswith("SAM queue with redrive (yaml template)")
    assert "Orders queue with a dead-letter queue" in text
    assert "defines AWS::SQS::Queue, AWS::Serverless::Function" in text, "each resource type once, in order"


def test_leading_comment_skips_shebangs_and_directives() -> None:
    assert leading_comment("#!/usr/bin/env python\n# Sends the report\n# every night\nimport x") == \
        "Sends the report every night"
    assert leading_comment("import x\n# not leading") == ""


def test_points_are_labelled_by_the_role_of_their_section() -> None:
    troubleshoot = classify("Why does my consumer keep failing on the same message?")
    assert label_for(troubleshoot, "DLQs > Problem") == "Cause"
    assert label_for(troubleshoot, "DLQs > Solution") == "Fix"
    compare = classify("Standard or FIFO queue: which should I choose?")
    assert label_for(compare, "Queues > When not to use") == "When not to use"
    assert label_for(compare, "Queues > Solution") == ""


@pytest.mark.parametrize("sentence", ["Maximum duration: 1 year.", "Item size: 400 KB.", "Payload: 6 MiB.",
                                      "Retention: 2 weeks.", "Costs $0.20 per million requests."])
def test_a_limits_question_counts_every_unit_as_a_figure(sentence: str) -> None:
    assert shape_bonus(classify("What is the maximum duration?"), sentence) == 1.0


def test_a_sentence_without_a_figure_earns_no_limits_bonus() -> None:
    assert shape_bonus(classify("What is the maximum duration?"), "Standard suits long waits.") == 0.0
