"""Front matter schemas: what a persona, a pattern and a reference document must declare."""

from __future__ import annotations

import datetime
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.providers import Provider

CATEGORIES = (
    "compute", "api", "events", "orchestration", "data", "resilience", "performance", "cost",
    "security", "compliance", "observability", "deployment", "testing", "migration", "disaster-recovery",
)
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class _DocumentFrontMatter(BaseModel):
    """What every indexed document that declares itself (a pattern, a reference sheet) names."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=3)
    providers: list[Provider] = Field(min_length=1)
    tags: list[str] = Field(min_length=1)
    related: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _kebab_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must be kebab-case (a-z, 0-9, -), got {value!r}")
        return value


class PatternFrontMatter(_DocumentFrontMatter):
    category: str
    kind: Literal["pattern"] = "pattern"

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of: {', '.join(CATEGORIES)}")
        return value


class ReferenceFrontMatter(_DocumentFrontMatter):
    """A reference sheet of facts that go stale (limits, defaults, quotas): `as_of` says when they
    were checked, so readers and reviewers know how old a figure is."""

    as_of: datetime.date
    kind: Literal["reference"] = "reference"


class Disclaimers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    general: str = Field(min_length=10)
    security: str = Field(min_length=10)
    compliance: str = Field(min_length=10)
    cost: str = Field(min_length=10)
    production: str = Field(min_length=10)


class DisclaimerTriggers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    security: list[str] = Field(min_length=1)
    compliance: list[str] = Field(min_length=1)
    cost: list[str] = Field(min_length=1)
    production: list[str] = Field(min_length=1)


class PersonaFrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    kind: Literal["persona"]
    providers: list[Provider] = Field(default_factory=list)
    scope: list[str] = Field(min_length=1)
    out_of_scope: list[str] = Field(default_factory=list)
    directives: list[str] = Field(default_factory=list)
    disclaimers: Disclaimers
    disclaimer_triggers: DisclaimerTriggers
    example_questions: list[str] = Field(default_factory=list)
