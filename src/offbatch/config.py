"""Job configs: the YAML resource config of a job type, validated with guardrails.

A config says what a job may spend: machine, accelerators, memory, disk, duration, tasks, and a
budget. Unknown keys and digit strings are errors; every breach of a guardrail names the field
and the limit. Secrets never live here (``env`` refuses secret-looking names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from offbatch import costs, machines
from offbatch.errors import ConfigError

# Guardrails: the most a shipped or user config may ask for. Raising one is a code review.
ALLOWED_REGIONS = frozenset(
    {"local", "europe-west1", "europe-west4", "europe-west9", "us-central1", "us-east1", "us-east4"}
)
ALLOWED_ACCELERATORS = frozenset({"nvidia-l4", "nvidia-tesla-t4", "nvidia-tesla-a100", "nvidia-h100-80gb"})
MAX_ACCELERATOR_COUNT = 2
MAX_CPU_MILLI = 32_000
MAX_MEMORY_MIB = 128 * 1024
MAX_BOOT_DISK_MIB = 200 * 1024
MAX_RUN_DURATION_S = 24 * 3600
MAX_TASK_COUNT = 1000
MAX_PARALLELISM = 64
MAX_RETRY_COUNT = 10  # Google Batch's own limit
MAX_BUDGET_USD = 500.0
# The NVIDIA driver Batch installs on GPU VMs (Accelerator.driver_version). The worker image's
# torch/vLLM wheels link the CUDA 13 runtime, which needs an R580+ driver (docs/operations.md).
DEFAULT_DRIVER_VERSION = "580.105.08"
MIN_DRIVER_MAJOR = 580
_DRIVER_VERSION = re.compile(r"^(\d{3})\.\d{1,3}(\.\d{1,3})?$")

_DURATION = re.compile(r"^(\d+)([smh])$")
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
RESERVED_ENV_PREFIXES = ("OFFBATCH_", "BATCH_")

PositiveInt = Annotated[StrictInt, Field(ge=1)]


class JobConfig(BaseModel):
    """Resources and limits of one job; every field reaches the backend request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: StrictStr
    container_image_uri: StrictStr | None = None
    entrypoint: StrictStr | None = None
    commands: list[StrictStr] = Field(default_factory=list)
    image_streaming: StrictBool = False
    cpu_milli: Annotated[StrictInt, Field(ge=250, le=MAX_CPU_MILLI)]
    memory_mib: Annotated[StrictInt, Field(ge=256, le=MAX_MEMORY_MIB)]
    boot_disk_mib: Annotated[StrictInt, Field(ge=0, le=MAX_BOOT_DISK_MIB)] = 0
    max_retry_count: Annotated[StrictInt, Field(ge=0, le=MAX_RETRY_COUNT)] = 0
    max_run_duration: Annotated[StrictInt, Field(ge=1, le=MAX_RUN_DURATION_S)]
    task_count: Annotated[StrictInt, Field(ge=1, le=MAX_TASK_COUNT)] = 1
    parallelism: Annotated[StrictInt, Field(ge=1, le=MAX_PARALLELISM)] = 1
    machine_type: StrictStr
    accelerator_type: StrictStr | None = None
    accelerator_count: Annotated[StrictInt, Field(ge=0, le=MAX_ACCELERATOR_COUNT)] = 0
    install_gpu_drivers: StrictBool = False
    driver_version: StrictStr = DEFAULT_DRIVER_VERSION
    provisioning_model: Literal["standard", "spot"] = "standard"
    budget_usd: Annotated[StrictFloat | StrictInt, Field(gt=0, le=MAX_BUDGET_USD)]
    engine: StrictStr = "cpu"
    chunk_size: Annotated[StrictInt, Field(ge=1, le=100_000)] = 256
    rows_per_second: Annotated[StrictFloat | StrictInt, Field(gt=0)] | None = None
    env: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @field_validator("max_run_duration", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> object:
        """Accept seconds (int) or '<n>s', '<n>m', '<n>h' as Google's duration strings."""
        if isinstance(value, str):
            m = _DURATION.match(value.strip())
            if not m:
                raise ValueError("must be seconds (an integer) or a duration like '3600s', '90m', '15h'")
            return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
        return value

    @field_validator("location")
    @classmethod
    def _allowed_region(cls, value: str) -> str:
        if value not in ALLOWED_REGIONS:
            raise ValueError(f"region {value!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_REGIONS))}")
        return value

    @field_validator("accelerator_type")
    @classmethod
    def _allowed_accelerator(cls, value: str | None) -> str | None:
        if value is not None and value not in ALLOWED_ACCELERATORS:
            raise ValueError(
                f"accelerator {value!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_ACCELERATORS))}"
            )
        return value

    @field_validator("driver_version")
    @classmethod
    def _driver_for_cuda_13(cls, value: str) -> str:
        m = _DRIVER_VERSION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not an NVIDIA driver version like {DEFAULT_DRIVER_VERSION!r}")
        if int(m.group(1)) < MIN_DRIVER_MAJOR:
            raise ValueError(
                f"driver {value} is older than R{MIN_DRIVER_MAJOR}, which the image's CUDA 13 runtime needs"
            )
        return value

    @field_validator("env")
    @classmethod
    def _no_secrets_in_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.startswith(RESERVED_ENV_PREFIXES):
                raise ValueError(f"variable {name!r} is reserved for the worker contract (OFFBATCH_*, BATCH_*)")
            if _SECRET_NAME.search(name):
                raise ValueError(f"variable {name!r} looks like a secret; secrets never live in job configs")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JobConfig:
        if self.parallelism > self.task_count:
            raise ValueError(f"parallelism ({self.parallelism}) must not exceed task_count ({self.task_count})")
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise ValueError("accelerator_type and accelerator_count must be set together")
        if self.accelerator_count and not self.install_gpu_drivers:
            raise ValueError("install_gpu_drivers must be true when accelerators are attached")
        if self.location == "local" and self.machine_type != costs.LOCAL_MACHINE:
            raise ValueError("location 'local' needs machine_type 'local'")
        if self.location != "local":
            # Google's own rules (the machine table): refused here rather than by Google.
            problems = machines.problems(
                machine_type=self.machine_type, region=self.location, accelerator_type=self.accelerator_type,
                accelerator_count=self.accelerator_count, cpu_milli=self.cpu_milli, memory_mib=self.memory_mib,
            )
            if problems:
                raise ValueError("; ".join(problems))
        if self.hourly_price() is None or self.disk_hourly_price() is None:
            raise ValueError(
                f"no price known for machine_type {self.machine_type!r} in {self.location!r} "
                f"(prices of {costs.PRICES_AS_OF}); the budget cannot be checked (see offbatch/costs.py)"
            )
        worst = self.cost_estimate().worst_case_usd
        if worst > self.budget_usd:
            raise ValueError(
                f"budget_usd: worst case cost ${worst:.2f} (task_count {self.task_count} x "
                f"{self.max_retry_count + 1} attempts x {self.max_run_duration}s at "
                f"${self.cost_estimate().hourly_usd:.4f}/h with the boot disk) exceeds the budget "
                f"${self.budget_usd:.2f}"
            )
        return self

    @property
    def spot(self) -> bool:
        return self.provisioning_model == "spot"

    def hourly_price(self) -> float | None:
        return costs.hourly_price(location=self.location, machine_type=self.machine_type, spot=self.spot)

    def boot_disk_gib(self) -> float:
        return costs.boot_disk_gib(machine_type=self.machine_type, boot_disk_mib=self.boot_disk_mib)

    def disk_hourly_price(self) -> float | None:
        return costs.disk_hourly_price(location=self.location, gib=self.boot_disk_gib())

    def cost_estimate(self, rows: int | None = None) -> costs.CostEstimate:
        return costs.estimate(
            hourly_usd=self.hourly_price() or 0.0,
            disk_hourly_usd=self.disk_hourly_price() or 0.0,
            boot_disk_gib=self.boot_disk_gib(),
            task_count=self.task_count,
            max_retry_count=self.max_retry_count,
            max_run_seconds=self.max_run_duration,
            rows=rows,
            rows_per_second=self.rows_per_second,
            startup_seconds=costs.startup_seconds(self.machine_type),
        )


def format_validation_error(source: str, error: ValidationError) -> str:
    parts = []
    for err in error.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(config)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
            msg = f"{msg} (got {err['input']!r})"
        parts.append(f"{field}: {msg}")
    return f"invalid job config {source}: " + "; ".join(parts)


def parse_config(data: object, *, source: str) -> JobConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"invalid job config {source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return JobConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(source, e)) from None


def load_config(path: Path) -> JobConfig:
    """Read and validate a YAML job config; every problem is a ConfigError naming the field."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"job config not found: {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid job config {path}: not valid YAML ({e})") from None
    return parse_config(data, source=str(path))
