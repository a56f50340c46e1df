"""The golden eval set (evals/golden.yaml): questions as users ask them, with what a good answer has."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import KBError
from core.providers import Provider

Kind = Literal["in_scope", "out_of_scope", "followup"]
CaseProvider = Provider | Literal["any"]  # a case about no provider in particular


class Expected(BaseModel):
    """A relevant document (or one section of it) with graded relevance: 3 best, 1 somewhat useful."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="path relative to the corpus root, e.g. patterns/resilience/idempotency.md, "
                                    "or an included code file (then section is empty)")
    section: str = Field("", description="last heading(s) of the section path; empty means any section")
    relevance: int = Field(2, ge=1, le=3)

    def matches(self, source: str, section: str, origin: str = "") -> bool:
        if origin and origin == self.source:
            return True
        return source == self.source and (not self.section or section.endswith(self.section))


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: Kind
    question: str = Field(min_length=3, max_length=2000)
    history: list[str] = Field(default_factory=list, description="earlier user questions, for follow-ups")
    provider: CaseProvider = "any"
    expected: list[Expected] = Field(default_factory=list)
    must_include: list[str] = Field(default_factory=list, max_length=4)
    template_languages: list[str] = Field(default_factory=list)
    review_note: str = Field("", description="why a case exported from feedback needs review; drop once reviewed")

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        if self.kind == "out_of_scope":
            if self.expected or self.must_include or self.template_languages:
                raise ValueError("an out_of_scope case has no expected sources, facts or templates")
        else:
            if not self.expected:
                raise ValueError("an answerable case needs at least one expected source")
            if not 1 <= len(self.must_include) <= 4:
                hint = " (exported from feedback: review it and add the facts)" if self.review_note else ""
                raise ValueError(f"an answerable case needs 1 to 4 must_include facts{hint}")
        if self.kind == "followup" and not self.history:
            raise ValueError("a followup case needs the earlier question in history")
        return self


class Dataset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    cases: list[Case]

    @model_validator(mode="after")
    def _unique_ids(self) -> Dataset:
        ids = [c.id for c in self.cases]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate case ids: {', '.join(duplicates)}")
        return self

    def of_kind(self, *kinds: Kind) -> list[Case]:
        return [c for c in self.cases if c.kind in kinds]


def load_dataset(path: Path) -> Dataset:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KBError(f"cannot read eval set {path}: {exc}") from None
    try:
        return Dataset.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        case_index = first["loc"][1] if len(first["loc"]) > 1 and first["loc"][0] == "cases" else None
        case_id = data["cases"][case_index].get("id") if isinstance(case_index, int) else None
        label = f" (case {case_id})" if case_id else ""
        raise KBError(f"{path}: {where}{label}: {first['msg']}") from None
