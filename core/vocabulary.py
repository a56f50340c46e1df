"""Vocabularies as data: `kb/vocabulary.yaml`, validated once, read by the modules that match words.

Which words name a provider, ask for code or a template language, try to override the bot's
instructions, are too common to count, and how an abstention is worded: these are lists a
maintainer edits, not code. The file is checked when first read (every pattern compiles, every
provider the code knows appears exactly once, no stopword twice); a problem is a VocabularyError
naming the file and the entry.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from core.errors import VocabularyError

VOCABULARY = Path(__file__).resolve().parents[1] / "kb" / "vocabulary.yaml"


def _patterns(values: list[str]) -> list[str]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return values


class ProviderWords(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str  # how the provider is shown to a person (the web UI's filter)
    terms: list[str]  # patterns matched in lower-cased text; a chunk mentioning one is tagged with it

    _check = field_validator("terms")(_patterns)


class Abstention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    injection: str
    misuse: str
    unknown_names: str  # {names}
    not_found: str
    covers: str  # {scope}
    example: str  # {example}


class Measure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    asks: list[str]  # patterns matched in the lower-cased question
    names: list[str]  # words a table row's first cell names the measure with

    _check = field_validator("asks")(_patterns)


class Vocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    providers: dict[str, ProviderWords]  # exactly the providers core.providers knows
    code_intent: list[str]
    code_request: list[str]  # words that ask to be shown code, not only name it
    language_hints: dict[str, list[str]]
    injection: list[str]
    misuse: list[str]  # requests to attack or abuse a system
    context_names: list[str]  # regular expressions with NAME where the name goes
    measures: dict[str, Measure]  # an extent a question asks for ("how long") and the words rows name it with
    stopwords: list[str]
    abstention: Abstention

    _check_intent = field_validator("code_intent", "code_request", "injection", "misuse")(_patterns)

    @field_validator("context_names")
    @classmethod
    def _name_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if "NAME" not in pattern:
                raise ValueError(f"{pattern!r} must contain NAME, where the name goes")
            _patterns([pattern.replace("NAME", "name")])
        return value

    @field_validator("providers")
    @classmethod
    def _every_provider(cls, value: dict[str, ProviderWords]) -> dict[str, ProviderWords]:
        from core.providers import PROVIDERS  # the registry's names are code (a Literal type)

        missing = [p for p in PROVIDERS if p not in value]
        unknown = [p for p in value if p not in PROVIDERS]
        if missing or unknown:
            raise ValueError(f"providers must be exactly {', '.join(PROVIDERS)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        return value

    @field_validator("language_hints")
    @classmethod
    def _hints(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            _patterns(patterns)
        return value

    @field_validator("stopwords")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        twice = sorted({w for w in value if value.count(w) > 1})
        if twice:
            raise ValueError(f"listed twice: {', '.join(twice)}")
        if any(w != w.lower() for w in value):
            raise ValueError("stopwords are lower-case")
        return value


def load_vocabulary(path: Path) -> Vocabulary:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VocabularyError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise VocabularyError(f"{path}: not valid YAML: {exc}") from None
    try:
        return Vocabulary.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise VocabularyError(f"{path}: {where}: {first['msg']}") from None


@functools.cache
def vocabulary() -> Vocabulary:
    """The project's vocabulary, read once per process."""
    return load_vocabulary(VOCABULARY)
