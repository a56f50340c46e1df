"""kb/vocabulary.yaml: the vocabularies the bot reads as data, validated with a message that names the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import VocabularyError
from core.providers import PROVIDER_TERMS, PROVIDERS, providers_in
from core.vocabulary import VOCABULARY, load_vocabulary, vocabulary


def test_the_project_vocabulary_is_valid_and_used() -> None:
    loaded = vocabulary()
    assert set(loaded.providers) == set(PROVIDERS)
    assert PROVIDER_TERMS["aws"] == "|".join(loaded.providers["aws"].terms)
    assert providers_in("an SQS queue in front of a Cloud Run service") == ("aws", "gcp")
    assert {"no", "on", "off"} <= set(loaded.stopwords), "quoted in YAML, not read as booleans"


def _variant(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(VOCABULARY.read_text(encoding="utf-8"))
    data.update(change)
    path = tmp_path / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"code_intent": ["templates?", "(unclosed"]}, "code_intent: Value error, '(unclosed' is not a regular expression"),
    ({"stopwords": ["a", "the", "a"]}, "stopwords: Value error, listed twice: a"),
    ({"providers": {"aws": {"label": "AWS", "terms": ["aws"]}}}, "providers: Value error, providers must be exactly"),
    ({"context_names": ["our NAME", "our spa"]}, "context_names: Value error, 'our spa' must contain NAME"),
    ({"context_names": ["(NAME"]}, "context_names: Value error, '(name' is not a regular expression"),
    ({"stopwords": ["a", False]}, "stopwords.1: Input should be a valid string"),
])
def test_a_bad_entry_is_named(tmp_path: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(VocabularyError, match=r"vocabulary\.yaml: ") as caught:
        load_vocabulary(_variant(tmp_path, change))
    assert message in str(caught.value)


def test_a_missing_or_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="cannot read"):
        load_vocabulary(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("providers: [", encoding="utf-8")
    with pytest.raises(VocabularyError, match="not valid YAML"):
        load_vocabulary(broken)
