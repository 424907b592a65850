"""Backend registry: names map to classes, imported lazily so cloud SDKs load only when used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from offbatch.backends.base import Backend, JobSpec, JobState, JobStatus, TaskState, TaskStatus
from offbatch.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from offbatch.settings import Settings

BACKENDS: dict[str, tuple[str, str]] = {
    # name: (class path, extra to install when its SDK is missing)
    "local": ("offbatch.backends.local.backend:LocalBackend", ""),
    "google-batch": ("offbatch.backends.google_batch.backend:GoogleBatchBackend", "gcp"),
}

__all__ = ["BACKENDS", "Backend", "JobSpec", "JobState", "JobStatus", "TaskState", "TaskStatus", "get_backend"]


def get_backend(name: str, settings: Settings) -> Backend:
    try:
        target, extra = BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(sorted(BACKENDS))}") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("offbatch"):
            raise
        raise BackendError(
            f"the {name!r} backend needs the missing package {e.name!r}",
            hint=f"install it with: pip install 'offbatch[{extra}]'" if extra else None,
        ) from e
    return getattr(module, class_name)(settings)
