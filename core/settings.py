"""One Settings object, built once by an entry point and passed down.

No other module reads the environment: they receive a Settings (or a part of it). The root holds
what every area shares (sources, index, embedding model); each area has its own section:
`ingest`, `retrieve`, `answer`, `llm`, `serve`, `slack`. A section's field is set with
`KB_<SECTION>__<FIELD>`; the documented flat names (`KB_MAX_CHUNK_TOKENS`, `KB_PORT`, `KB_LLM`,
`SLACK_BOT_TOKEN`, ...) keep working through FLAT_NAMES, in the environment, `.env` and keyword
arguments alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import SettingsError, SourceError

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class SourceFolder:
    """A source folder and the name its documents are stored, cited and filtered under."""

    path: Path
    name: str


def default_source_name(path: Path) -> str:
    """The folder's own name (`.` is the current folder's), reduced to the characters a name may have."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.resolve().name).strip("-._")
    return name[:64] or "source"


def parse_source(spec: str | Path) -> tuple[Path, str | None]:
    """`DIR` or `DIR=NAME` (split at the last `=`; an existing folder whose name has `=` is taken whole)."""
    spec = str(spec)
    folder, sep, name = spec.rpartition("=")
    if not sep or Path(spec).is_dir():
        return Path(spec), None
    if not SOURCE_NAME.match(name):
        raise SourceError(f"source {spec!r}: the name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    if not folder:
        raise SourceError(f"source {spec!r}: no folder before '='; use DIR=NAME")
    return Path(folder), name


class RetrieveSettings(BaseModel):
    k: int = Field(6, ge=1, le=50, description="chunks handed to the composer")
    candidates: int = Field(30, ge=5, le=200, description="candidates taken from each retriever before fusion")
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion constant")
    bm25_weight: float = Field(0.3, ge=0, le=2, description="weight of the BM25 ranking in the fusion (tuned on evals)")
    # Hierarchical retrieval: documents are ranked by their fields and their best chunk, and a
    # document's score is added to its chunks', so sections of the right document win ties.
    rerank_depth: int = Field(8, ge=0, le=50, description="hits reordered by their best sentence (0: off)")
    rerank_sentence: float = Field(1.0, ge=0, le=10, description="weight of the best sentence's similarity")
    rerank_overlap: float = Field(0.5, ge=0, le=10, description="weight of the best sentence's share of question words")
    background_sections: list[str] = Field(
        default_factory=lambda: ["problem", "when to use", "when not to use", "related"],
        description="headings (words in the section's own heading) that set the scene rather than answer: "
                    "they echo a question's words, so they outrank the section that holds the answer")
    background_penalty: float = Field(0.4, ge=0, le=5, description="subtracted from a background section's "
                                      "rerank score (calibrated on the calibration halves of all three corpora)")
    cause_sections: list[str] = Field(default_factory=lambda: ["problem"], description="background sections "
                                      "that state a cause: a question asking why is answered by them")
    doc_weight: float = Field(0.25, ge=0, le=4, description="how much a chunk's document score adds to its own")
    key_term_boost: float = Field(2.0, ge=1, le=10, description="the question's rarest word names its topic: its "
                                  "match in a document's fields counts this many times")
    topic_bonus: float = Field(1.0, ge=0, le=4, description="added (as a share of a first place) to the chunks "
                               "of the document a question is about: its title holds the question's rarest word")
    topic_rerank: float = Field(1.0, ge=0, le=2, description="...and added to their rerank score")
    topic_margin: float = Field(1.15, ge=1, le=3, description="...and its field score is this many times the next "
                                "document's")
    section_siblings: int = Field(1, ge=0, le=6, description="other parts of a retrieved section that ingest split "
                                  "come along as companions (a section's figures may sit in the part not retrieved)")
    min_should_match: float = Field(0.4, ge=0, le=1, description="BM25 keeps a chunk only when it has this share "
                                    "of the question's terms (one term at least)")
    max_should_match: int = Field(8, ge=1, le=100, description="...but never more words than this: a long question "
                                  "(a whole spec in one sentence) would keep only chunks that repeat half of it")
    server_dense: bool = Field(True, description="with KB_CHROMA_URL, dense search runs on the server's HNSW "
                               "index (false: exact search over the snapshot's mapped vectors in each replica)")
    server_overfetch: int = Field(2, ge=1, le=20, description="...the server is asked for this many times the "
                                  "candidates, so the persona and chunks written since the snapshot leave enough")
    filtered_overfetch: int = Field(4, ge=1, le=50, description="...and this many times under a user's filter, "
                                    "applied here (a Chroma `where` costs time linear in the corpus); too few "
                                    "left, and the snapshot's exact search answers")
    max_per_section: int = Field(2, ge=1, le=20, description="hits from one section, so one section cannot fill k")
    max_per_document: int = Field(3, ge=1, le=50, description="hits from one document")
    max_companions: int = Field(4, ge=0, le=20, description="templates a prose hit brings along (the closest first)")
    companion_share: float = Field(0.9, ge=0, le=1, description="a companion's score as a share of the hit that "
                                   "brought it: right after it in evidence order")
    section_documents: int = Field(3, ge=0, le=10, description="the first documents among the hits whose best "
                                   "other sections come along as companions: the per-document cap may have left "
                                   "out the section that answers (calibrated: answer hit@5 up on all three corpora)")
    sections_per_document: int = Field(2, ge=0, le=10, description="...how many of them, closest to the question "
                                       "first")
    sections_by_sentence: bool = Field(True, description="...a section as close as its closest sentence when that "
                                       "is closer than its whole vector (calibrated: answer hit@5 kb .926 -> .937, "
                                       "seeds .903 -> .935, powertools unchanged)")
    section_share: float = Field(0.35, ge=0, le=1, description="...and their score as a share of the document's "
                                 "first hit: low, so a point from them must earn its place by its own words")
    doc_expand: int = Field(3, ge=0, le=20, description="top documents whose best chunk joins the candidates")
    title_weight: float = Field(3.0, ge=0, le=10, description="a title word says what the whole document is about")
    tags_weight: float = Field(2.0, ge=0, le=10, description="tags are chosen words for the topic")
    summary_weight: float = Field(1.5, ge=0, le=10, description="the summary restates the topic in a sentence")
    headings_weight: float = Field(1.0, ge=0, le=10, description="headings name the subtopics, with more noise")


class AnswerSettings(BaseModel):
    min_points: int = Field(2, ge=1, le=10)
    max_points: int = Field(6, ge=1, le=12)
    max_templates: int = Field(2, ge=0, le=6)
    skip_sections: list[str] = Field(default_factory=lambda: ["Related"],
                                     description="headings whose sentences are navigation, not evidence")
    # evidence = dense_weight * best cosine + (1 - dense_weight) * share of question terms found;
    # below min_evidence the bot abstains. Calibrated on the eval questions (evals/calibration.md).
    dense_weight: float = Field(0.6, ge=0, le=1)
    min_evidence: float = Field(0.35, ge=0, le=1)
    unknown_name_evidence: float = Field(0.6, ge=0, le=1, description="a question naming something the knowledge "
                                         "base never mentions is answered only above this evidence (with a note)")
    # Sentence score = similarity * sentence_similarity + term overlap * sentence_overlap
    #                + chunk rank * sentence_rank + role_bonus * (section role + figures for cost questions).
    sentence_similarity: float = Field(0.55, ge=0, le=2, description="meaning: cosine of sentence and question")
    sentence_overlap: float = Field(0.30, ge=0, le=2, description="wording: share of question terms the sentence has")
    sentence_rank: float = Field(0.30, ge=0, le=2, description="evidence order: the fused score of its chunk "
                                 "(0.30 on the calibration halves, once the answering section ranked first)")
    role_bonus: float = Field(0.1, ge=0, le=2, description="a section in the role the question wants (steps, "
                                                            "trade-offs, cause, figures) answers it better")
    near_duplicate: float = Field(0.92, ge=0, le=1, description="a point this similar to one already chosen "
                                  "repeats it and is skipped")
    template_margin: float = Field(0.1, ge=0, le=1, description="a further template only when it scores within "
                                   "this of the best: fewer, better templates")
    template_language_bonus: float = Field(0.3, ge=0, le=2, description="a template in the language the question "
                                           "names ('SAM' means YAML) ranks above one that is not")
    hinted_template_documents: int = Field(2, ge=0, le=10, description="a code request naming a language no "
                                           "hit has looks for it in the documents of this many first hits")
    code_lead_documents: int = Field(3, ge=0, le=10, description="a request for code whose best hit is prose "
                                     "opens with its own template, else one from the first of this many leading "
                                     "documents that has one (0: off)")
    procedure_steps: int = Field(5, ge=0, le=12, description="a how-to question whose best hit is a numbered "
                                 "procedure of three steps or more is answered with up to this many of its steps, "
                                 "in order (0: off)")
    template_cited_bonus: float = Field(0.2, ge=0, le=2, description="a template of a section the answer cites")
    figure_table_depth: int = Field(3, ge=0, le=20, description="a limits or cost question leads with a table among "
                                    "this many first hits...")
    figure_row_share: float = Field(0.4, ge=0, le=1, description="...when one of its rows has this share of the "
                                    "question's words (two at least)")
    coverage_depth: int = Field(3, ge=1, le=20, description="hits whose words count as covering the question")
    gibberish_share: float = Field(0.5, ge=0, le=1, description="below this share of known words a question is "
                                   "gibberish and is not answered")
    key_terms: int = Field(2, ge=1, le=10, description="the question's rarest topic words stand for what it is "
                           "about (a note says when no cited source has them)")
    gap_closeness: float = Field(0.5, ge=0, le=1, description="...and only when the best source's cosine to the "
                                 "question is below this (calibrated: above it, every such note was on a right answer)")
    min_inside: int = Field(8, ge=1, le=64, description="a name the corpus has only inside a longer identifier "
                            "counts as known from this length ('spa' in 'workspace' does not)")
    focus_terms: int = Field(1, ge=0, le=5, description="when the lead names the question's rarest topic word, "
                             "points come only from documents that name it too: no padding from documents about "
                             "something else (calibration halves: kb/ answers cite 2.39 documents, not 2.65, "
                             "fact recall .732 -> .739; 0: off)")
    focus_quorum: int = Field(3, ge=0, le=10, description="...and only when most of the documents of this many "
                              "first hits name that word too: a word rare in the lead's document but absent from the "
                              "next hits ('archive' for 'unzip an archive in /tmp') is not what was asked "
                              "(calibration halves: kb/ answer@5 .915 -> .925, pass rate .760 -> .770; 0: off)")
    other_providers: bool = Field(False, description="a question that names a provider (Lambda, Cloud Run) gets "
                                  "points and templates that name only other providers too (false: a Cloud Run "
                                  "timeout is padding in an answer about Lambda's, an Azure template in one on "
                                  "Pub/Sub)")
    mmr_lambda: float = Field(0.75, ge=0, le=1, description="relevance against redundancy when picking points")
    same_chunk_penalty: float = Field(0.05, ge=0, le=1, description="spread points over sections")
    stop_ratio: float = Field(0.6, ge=0, le=1, description="after min_points, stop below this share of the best "
                              "(calibration halves: 0.6 keeps facts that 0.7 cut)")


class IngestSettings(BaseModel):
    embed_batch_size: int = Field(64, ge=1, le=1024)
    max_chunk_tokens: int = Field(256, ge=32, le=8192, description="hard limit, the model's own tokens")
    target_chunk_tokens: int = Field(200, ge=16, le=8192, description="prose chunks are packed up to this")
    min_template_lines: int = Field(3, ge=1, description="smaller code blocks stay inline in the prose")
    max_file_bytes: int = Field(5_000_000, ge=1)
    exclude_rules: Path = Path("kb/exclude.yaml")
    include: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="KB_INCLUDE / --include: only files matching one of these globs "
        "(gitignore syntax, relative to the source folder) are read")
    exclude: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="KB_EXCLUDE / --exclude: files matching one of these globs are not read "
        "(on top of .kbignore, .gitignore and the defaults)")

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _globs(cls, value: Any) -> Any:
        """`KB_EXCLUDE=docs/archive/**,*.draft.md`: a comma-separated list in the environment."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class LLMSettings(BaseModel):
    model: str = Field("", description="KB_LLM=provider:model enables the optional LLM answerer")
    timeout: float = Field(30.0, gt=0, description="seconds before the extractive answer is shown instead")
    max_sources: int = Field(6, ge=1, le=20, description="retrieved sections (not templates) the model sees")
    support: float = Field(0.5, ge=0, le=1, description="a claim is kept when its cited section supports it this "
                           "much: content-word recall or cosine, whichever is larger (calibrated on the evals)")


class ServeSettings(BaseModel):
    host: str = Field("127.0.0.1", description="KB_HOST: the server binds here; loopback by default")
    port: int = Field(7860, ge=1, le=65535)
    api_token: str = Field("", description="KB_API_TOKEN: bearer token required by /api/ask when set")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="KB_CORS_ORIGINS=https://a.example,https://b.example: origins allowed "
        "cross-origin access; empty (the default) allows none")
    ui_auth: str = Field("", description="KB_UI_AUTH=user:pass protects the web UI when set")
    max_body_bytes: int = Field(16_384, ge=1024, description="request body limit for /api/ask")
    max_request_bytes: int = Field(1_048_576, ge=1024, description="body limit for every other route (the web UI's)")
    queue_size: int = Field(32, ge=1, description="web UI requests waiting beyond this are refused")
    api_waiting: int = Field(16, ge=0, description="/api/ask requests that may wait for an answer slot; "
                             "beyond them, 503 with Retry-After")
    api_max_wait: float = Field(2.0, gt=0, description="seconds an /api/ask request may wait for a slot before 503")
    concurrency: int = Field(2, ge=1, description="web UI answers computed at once")
    feedback_max_rows: int = Field(100_000, ge=1, description="answers kept for feedback; the oldest are dropped")
    reload_seconds: float = Field(1.0, ge=0, description="how often `kb serve` checks the index for a newly "
                                  "published version (0: never; serve what was loaded at start)")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class SlackSettings(BaseModel):
    bot_token: str = Field("", description="SLACK_BOT_TOKEN: enables the Slack bot with the signing secret")
    signing_secret: str = Field("", description="SLACK_SIGNING_SECRET: verifies every request from Slack")
    max_body_bytes: int = Field(262_144, ge=1024, description="request body limit for /slack/events "
                                "(a button click carries the whole message, tens of KB)")


# The documented flat names of settings that live in a section: name -> (section, field). The
# environment variable is KB_<NAME> (and, for Slack's own names, the name alone, as Slack documents it).
FLAT_NAMES: dict[str, tuple[str, str]] = {
    **{name: ("ingest", name) for name in IngestSettings.model_fields},
    "llm": ("llm", "model"),
    **{name: ("serve", name) for name in ServeSettings.model_fields},
    "slack_bot_token": ("slack", "bot_token"),
    "slack_signing_secret": ("slack", "signing_secret"),
    "slack_max_body_bytes": ("slack", "max_body_bytes"),
}
UNPREFIXED = {"slack_bot_token": "SLACK_BOT_TOKEN", "slack_signing_secret": "SLACK_SIGNING_SECRET"}
MOVED = {("answer", "llm_timeout"): ("llm", "timeout")}  # KB_ANSWER__LLM_TIMEOUT, from before `llm` was a section


def _into_sections(data: dict[str, Any]) -> dict[str, Any]:
    """Flat names and moved fields put in their section; a flat name wins over the section's own key
    (it is the more specific: a keyword argument or the documented variable)."""
    data = dict(data)
    for flat, (section, name) in FLAT_NAMES.items():
        if flat in data and not (flat == section and isinstance(data[flat], dict | BaseModel)):  # `llm`: both
            value = data.pop(flat)
            data[section] = {**_section(data.get(section)), name: value}
    for (section, name), (to_section, to_name) in MOVED.items():
        if isinstance(data.get(section), dict) and name in data[section]:
            rest = dict(data[section])
            value = rest.pop(name)
            data[section] = rest
            data[to_section] = {to_name: value, **_section(data.get(to_section))}
    return data


def variable_for(location: tuple[int | str, ...]) -> str:
    """The environment variable that sets a field: its documented flat name if it has one."""
    path = tuple(str(part) for part in location)
    for flat, target in FLAT_NAMES.items():
        if path[:2] == target:
            return UNPREFIXED.get(flat, f"KB_{flat.upper()}")
    return "KB_" + "__".join(path).upper()


def build_settings(source: Sequence[str | Path] | None = None, index: Path | None = None,
                   **overrides: Any) -> Settings:
    """Settings from the environment, with command-line flags taking precedence: `source` holds `DIR` or
    `DIR=NAME` specs, `overrides` flat names (`host`, `port`) or root fields; None means not given."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(f"{variable_for(first['loc'])}={first.get('input')!r}: {first['msg']}; "
                            "fix or unset it") from None
    update: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if source:
        parsed = [parse_source(spec) for spec in source]
        update["sources"] = [folder for folder, _ in parsed]
        update["source_names"] = {**settings.source_names, **{folder: name for folder, name in parsed if name}}
    if index is not None:
        update["index_dir"] = index
    settings = settings.updated(**update)
    if settings.index_dir.exists() and not settings.index_dir.is_dir():
        raise SettingsError(f"--index {settings.index_dir} is a file; give the index folder (created if missing)")
    return settings


def _section(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value) if isinstance(value, dict) else {}


class FlatNamesSource(PydanticBaseSettingsSource):
    """Reads the flat names (KB_PORT, SLACK_BOT_TOKEN, ...) from the environment and `.env`, which
    pydantic-settings would only look up for fields of the root."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env_file = self.config.get("env_file")
        found: dict[str, Any] = {}
        if isinstance(env_file, str) and Path(env_file).is_file():
            from dotenv import dotenv_values

            found = {k.lower(): v for k, v in dotenv_values(env_file).items() if v is not None}
        found |= {k.lower(): v for k, v in os.environ.items()}
        values: dict[str, Any] = {}
        for flat in FLAT_NAMES:
            for variable in (f"kb_{flat}", UNPREFIXED.get(flat, "").lower()):
                if variable and variable in found:
                    values[flat] = found[variable]
                    break
        return _into_sections(values)


class Settings(BaseSettings):
    """Configuration for every entry point; environment variables use the prefix KB_."""

    model_config = SettingsConfigDict(
        env_prefix="KB_", env_file=".env", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    sources: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [Path("kb")])
    source_names: dict[Path, str] = Field(default_factory=dict, description="a source folder's name when it "
                                          "is not the folder's own (KB_SOURCES=DIR=NAME or --source DIR=NAME)")
    index_dir: Path = Path(".kb-index")
    chroma_url: str = Field("", description="empty: embedded Chroma in index_dir; else a Chroma server URL")
    collection: str = "serverless-kb"
    embedding_model: str = BUNDLED_MODEL
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx", description="onnx: the model exported once to ONNX and run without torch (verified against "
        "sentence-transformers); torch: sentence-transformers itself")
    model_cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "serverless-kb",
                                  description="where ONNX exports are kept, keyed by the model's files")
    shared_dir: Path = Field(Path("../shared"), description="foreign corpora for the evals (seeds, corpora/)")
    persona: Path = Path("kb/personas/serverless-architect.md")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: Annotated[LLMSettings, NoDecode] = Field(default_factory=LLMSettings)  # KB_LLM is the model, not JSON
    serve: ServeSettings = Field(default_factory=ServeSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, FlatNamesSource(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        return _into_sections(data) if isinstance(data, dict) else data

    @model_validator(mode="before")
    @classmethod
    def _split_sources(cls, data: Any) -> Any:
        # KB_SOURCES=kb:extra-docs=docs, like PATH; each part DIR or DIR=NAME.
        if not isinstance(data, dict) or not isinstance(data.get("sources"), str | list):
            return data
        parts = data["sources"].split(":") if isinstance(data["sources"], str) else data["sources"]
        try:
            parsed = [parse_source(p) if isinstance(p, str) else (Path(p), None) for p in parts if p != ""]
        except SourceError as exc:
            raise ValueError(str(exc)) from None
        names = {folder: name for folder, name in parsed if name}
        return {**data, "sources": [folder for folder, _ in parsed],
                "source_names": {**(data.get("source_names") or {}), **names}}

    def updated(self, **changes: Any) -> Settings:
        """A copy with `changes` (root fields or flat names such as `port`), not validated again, like
        model_copy, which would take a flat name as a new attribute."""
        update: dict[str, Any] = {}
        for key, value in changes.items():
            if key in FLAT_NAMES and not (key == "llm" and isinstance(value, LLMSettings)):
                section, name = FLAT_NAMES[key]
                current = update.get(section) or getattr(self, section)
                update[section] = current.model_copy(update={name: value})
            else:
                update[key] = value
        return self.model_copy(update=update)

    def named_sources(self) -> list[SourceFolder]:
        """The source folders with their names; two folders under one name are refused (their documents
        would collide)."""
        named = [SourceFolder(path, self.source_names.get(path) or default_source_name(path)) for path in self.sources]
        seen: dict[str, Path] = {}
        for source in named:
            if source.name in seen:
                raise SourceError(f"the source folders {seen[source.name]} and {source.path} are both named "
                                  f"{source.name!r}; name one with --source DIR=NAME (or DIR=NAME in KB_SOURCES)")
            seen[source.name] = source.path
        return named

    @property
    def feedback_db(self) -> Path:
        return self.index_dir / "feedback.sqlite3"

    @property
    def cache_dir(self) -> Path:
        return self.index_dir / "cache"

    @property
    def chroma_dir(self) -> Path:
        return self.index_dir / "chroma"

    @property
    def lock_file(self) -> Path:
        return self.index_dir / "ingest.lock"
