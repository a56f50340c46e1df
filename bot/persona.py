"""The persona document: scope, disclaimers and example questions, read as data from kb/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from core.errors import FrontMatterError
from ingest.load import read_text, split_front_matter
from ingest.records import Skipped
from ingest.schema import PersonaFrontMatter

TOPICS = ("security", "compliance", "cost", "production")


@dataclass(frozen=True)
class Persona:
    data: PersonaFrontMatter

    def disclaimer(self, *texts: str) -> str:
        """The general disclaimer plus a line for each topic the texts touch."""
        haystack = " ".join(texts).lower()
        lines = [self.data.disclaimers.general]
        for topic in TOPICS:
            triggers: list[str] = getattr(self.data.disclaimer_triggers, topic)
            if any(_mentions(haystack, trigger.lower()) for trigger in triggers):
                lines.append(getattr(self.data.disclaimers, topic))
        return "\n".join(lines)

    def topics(self, *texts: str) -> list[str]:
        haystack = " ".join(texts).lower()
        return [t for t in TOPICS
                if any(_mentions(haystack, w.lower()) for w in getattr(self.data.disclaimer_triggers, t))]


def _mentions(haystack: str, trigger: str) -> bool:
    if re.fullmatch(r"[\w\s\-]+", trigger):
        return re.search(rf"(?<![\w-]){re.escape(trigger)}(?![\w-])", haystack) is not None
    return trigger in haystack


def load_persona(path: Path) -> Persona:
    text = read_text(path, 1_000_000)
    if isinstance(text, Skipped):
        raise FrontMatterError(f"persona {path}: {text.reason}: {text.detail}; set KB_PERSONA to the persona file")
    data, _, _ = split_front_matter(text, str(path))
    try:
        return Persona(PersonaFrontMatter.model_validate(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FrontMatterError(f"{path}: field '{'.'.join(map(str, first['loc']))}': {first['msg']}") from None
