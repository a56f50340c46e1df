"""A repository-shaped corpus for the scale benchmark, written on demand (never committed as data).

Each of `folders` service folders holds what a team's repository holds beside its documentation: a
README with a few sections, a SAM template, a Terraform file, a serverless.yml, a state machine,
handlers in Python, TypeScript and Go, a runbook and an ADR; 10 files a folder, varied by a seeded
random choice of service, trigger, store and wording so that chunks are not duplicates.
"""

from __future__ import annotations

import random
from pathlib import Path

TRIGGERS = [("SQS", "AWS::SQS::Queue", "queue"), ("SNS", "AWS::SNS::Topic", "topic"),
            ("EventBridge", "AWS::Events::Rule", "rule"), ("Kinesis", "AWS::Kinesis::Stream", "stream"),
            ("S3", "AWS::S3::Bucket", "bucket"), ("DynamoDB", "AWS::DynamoDB::Table", "stream")]
STORES = ["DynamoDB table", "S3 bucket", "Aurora Serverless cluster", "ElastiCache cluster", "OpenSearch domain"]
NOUNS = ["orders", "invoices", "payments", "shipments", "users", "carts", "refunds", "reports", "images", "alerts",
         "tickets", "sessions", "claims", "quotes", "ledgers", "audits", "exports", "imports", "emails", "feeds"]
VERBS = ["validates", "enriches", "aggregates", "deduplicates", "archives", "routes", "transforms", "scores"]
CONCERNS = ["idempotency keys in a DynamoDB table", "partial batch responses", "a dead-letter queue after three "
            "receives", "exponential backoff with jitter", "reserved concurrency of 20", "a 30-second timeout",
            "structured JSON logs with a correlation id", "X-Ray tracing on every hop", "a per-tenant rate limit",
            "KMS encryption at rest", "a circuit breaker around the downstream API", "provisioned concurrency at "
            "peak hours"]
FILES_PER_FOLDER = 10


def _service(rng: random.Random, index: int) -> dict[str, str]:
    noun, verb = rng.choice(NOUNS), rng.choice(VERBS)
    trigger, resource, what = rng.choice(TRIGGERS)
    concerns = rng.sample(CONCERNS, 3)
    return {"name": f"{noun}-{verb[:-1]}-{index:04d}", "noun": noun, "verb": verb, "trigger": trigger,
            "resource": resource, "what": what, "store": rng.choice(STORES), "a": concerns[0], "b": concerns[1],
            "c": concerns[2], "memory": str(rng.choice([128, 256, 512, 1024, 1769])),
            "timeout": str(rng.choice([10, 30, 60, 120, 300])), "batch": str(rng.choice([1, 5, 10, 25, 100]))}


def _readme(s: dict[str, str]) -> str:
    return f"""# {s['name']}

The {s['name']} service {s['verb']} {s['noun']} that arrive from an {s['trigger']} {s['what']} and keeps the
result in a {s['store']}. It is one Lambda function of {s['memory']} MB with a {s['timeout']}-second timeout.

## Design

Messages arrive in batches of {s['batch']}. The function uses {s['a']}, so a retry never writes twice.
It also relies on {s['b']}. Failures that persist are kept for inspection instead of blocking the {s['what']}.

## Operations

Alarms fire when the {s['what']} backlog grows for ten minutes. The team relies on {s['c']} to find slow calls.
Deploy with `sam deploy` from this folder; the Terraform file creates the shared {s['store']}.

## Costs

At a million {s['noun']} a day the function costs a few dollars a month; the {s['store']} dominates the bill.
"""


def _template(s: dict[str, str]) -> str:
    return f"""AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: {s['name']} - {s['verb']} {s['noun']} from an {s['trigger']} {s['what']}.
Resources:
  Source:
    Type: {s['resource']}
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: handler.handle
      MemorySize: {s['memory']}
      Timeout: {s['timeout']}
      Environment:
        Variables:
          SERVICE: {s['name']}
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Errors
      Namespace: AWS/Lambda
      Threshold: 1
"""


def _terraform(s: dict[str, str]) -> str:
    table = s["name"].replace("-", "_")
    return f"""# Shared state for {s['name']}: the {s['noun']} table.
resource "aws_dynamodb_table" "{table}" {{
  name         = "{s['name']}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {{
    name = "pk"
    type = "S"
  }}
}}

resource "aws_cloudwatch_log_group" "{table}" {{
  name              = "/aws/lambda/{s['name']}"
  retention_in_days = 14
}}
"""


def _serverless(s: dict[str, str]) -> str:
    return f"""service: {s['name']}
provider:
  name: aws
  runtime: nodejs20.x
  memorySize: {s['memory']}
functions:
  {s['noun']}:
    handler: handler.main
    timeout: {s['timeout']}
    events:
      - schedule: rate(5 minutes)
"""


def _state_machine(s: dict[str, str]) -> str:
    return f"""{{
  "Comment": "{s['name']}: {s['verb']} {s['noun']} then notify",
  "StartAt": "Process",
  "States": {{
    "Process": {{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Retry": [{{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}}], "Next": "Notify"}},
    "Notify": {{"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true}}
  }}
}}
"""


def _python(s: dict[str, str]) -> str:
    return f'''"""{s['name']}: {s['verb']} {s['noun']} from the {s['trigger']} {s['what']}."""

import json
import os

SERVICE = os.environ.get("SERVICE", "{s['name']}")


def handle(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            process(json.loads(record["body"]))
        except ValueError:
            failures.append({{"itemIdentifier": record["messageId"]}})
    return {{"batchItemFailures": failures}}


def process(item):
    if "id" not in item:
        raise ValueError("an item without an id")
    return {{"service": SERVICE, "id": item["id"]}}
'''


def _typescript(s: dict[str, str]) -> str:
    return f"""// {s['name']}: the scheduled {s['noun']} sweep.
import {{ ScheduledEvent }} from "aws-lambda";

export const main = async (event: ScheduledEvent): Promise<number> => {{
  const started = Date.parse(event.time);
  console.log(JSON.stringify({{ service: "{s['name']}", started }}));
  return started;
}};
"""


def _go(s: dict[str, str]) -> str:
    return f"""// Package main {s['verb']} {s['noun']} for {s['name']}.
package main

import (
\t"context"

\t"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, event map[string]any) (string, error) {{
\treturn "{s['name']}", nil
}}

func main() {{
\tlambda.Start(handle)
}}
"""


def _runbook(s: dict[str, str]) -> str:
    return f"""# Runbook: {s['name']}

## When the backlog grows

Check the {s['what']} age metric first. If the function throttles, raise its concurrency; if it errors,
read the last hour of logs by correlation id and replay the failed {s['noun']} from the dead-letter queue.

## When the {s['store']} throttles

Switch the table to provisioned capacity for the peak, or spread the partition keys of {s['noun']}.
"""


def _adr(s: dict[str, str]) -> str:
    return f"""# ADR: {s['trigger']} for {s['noun']}

We chose an {s['trigger']} {s['what']} over direct invocation because it absorbs bursts and retries for us.
The trade-off is {s['a']}, which every consumer of {s['noun']} must respect.
"""


WRITERS = {"README.md": _readme, "template.yaml": _template, "main.tf": _terraform, "serverless.yml": _serverless,
           "workflow.asl.json": _state_machine, "src/handler.py": _python, "src/sweep.ts": _typescript,
           "cmd/main.go": _go, "docs/runbook.md": _runbook, "docs/adr-001.md": _adr}


def write_repo_corpus(root: Path, folders: int = 1000, seed: int = 7) -> int:
    """Write `folders` service folders under `root` (created); returns the number of files written."""
    assert len(WRITERS) == FILES_PER_FOLDER
    rng = random.Random(seed)
    written = 0
    for index in range(folders):
        service = _service(rng, index)
        folder = root / "services" / service["name"]
        for rel, write in WRITERS.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(write(service), encoding="utf-8")
            written += 1
    return written
