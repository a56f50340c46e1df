"""What is not knowledge: rules, kept as data in kb/exclude.yaml, that drop agent instructions."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from core.errors import RulesError
from ingest.markdown import Section
from ingest.records import Exclusion


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    reason: str
    heading: str | None = None
    content: str | None = None
    scope: Literal["section", "block"] = "section"

    @field_validator("heading", "content")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> Rule:
        if (self.heading is None) == (self.content is None):
            raise ValueError("give exactly one of 'heading' or 'content'")
        return self

    def matches_heading(self, heading: str) -> bool:
        return self.heading is not None and re.search(self.heading, heading, re.I) is not None

    def matches_text(self, text: str) -> bool:
        return self.content is not None and re.search(self.content, text, re.I | re.M) is not None


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[str] = Field(default_factory=list, description="globs of whole files that are not knowledge, "
                             "relative to the folder of the rules file: they apply to that source only")
    rules: list[Rule] = Field(default_factory=list)
    _home: Path | None = PrivateAttr(None)  # the folder the rules file lives in (not a key of the file)

    def covers(self, root: Path) -> bool:
        """`files:` describe the knowledge base's own folder (its README is about the knowledge base);
        another source's README.md is that source's knowledge."""
        return self._home is not None and _same_folder(root, self._home)

    def excludes_file(self, source: str) -> bool:
        return any(fnmatch.fnmatch(source, pattern) for pattern in self.files)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def load_rules(path: Path) -> RuleSet:
    """The exclusion rules; a missing file means no exclusions, a malformed one is an error."""
    if not path.exists():
        return RuleSet()
    try:
        rules = RuleSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        rules._home = path.parent
        return rules
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulesError(f"{path}: {where}: {first['msg']}") from None


@dataclass
class Cleaned:
    sections: list[Section]
    exclusions: list[Exclusion]


def _section_rule(section: Section, rules: RuleSet) -> Rule | None:
    for rule in rules.rules:
        if rule.matches_heading(section.heading):
            return rule
        if rule.scope == "section" and rule.matches_text(section.own_text):
            return rule
    return None


def _drop_blocks(section: Section, source: str, rules: RuleSet) -> list[Exclusion]:
    block_rules = [r for r in rules.rules if r.scope == "block" and r.content]
    dropped = []
    kept = []
    for block in section.blocks:
        rule = next((r for r in block_rules if block.kind == "prose" and r.matches_text(block.text)), None)
        if rule is None:
            kept.append(block)
        else:
            dropped.append(Exclusion(source, block.start_line, block.end_line, section.section_path,
                                     rule.id, rule.reason))
    section.blocks = kept
    return dropped


def remove_non_knowledge(source: str, sections: list[Section], rules: RuleSet) -> Cleaned:
    """Drop excluded sections (with their subsections) and excluded blocks."""
    kept: list[Section] = []
    exclusions: list[Exclusion] = []
    excluded_until = 0
    for section in sections:
        if section.start_line <= excluded_until:
            continue
        rule = _section_rule(section, rules)
        if rule is not None:
            exclusions.append(Exclusion(source, section.start_line, section.end_line,
                                        section.section_path, rule.id, rule.reason))
            excluded_until = section.end_line
            continue
        exclusions.extend(_drop_blocks(section, source, rules))
        kept.append(section)
    return Cleaned(kept, exclusions)
