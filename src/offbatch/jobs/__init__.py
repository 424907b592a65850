"""Job-type registry: job types register themselves by name."""

from __future__ import annotations

import importlib

from offbatch.errors import ConfigError
from offbatch.jobs.base import JobType, PredictionRecord

# Modules that define job types; importing one registers its types.
JOB_TYPE_MODULES = ("offbatch.jobs.ingredients_spellcheck",)

_REGISTRY: dict[str, type[JobType]] = {}

__all__ = ["JobType", "PredictionRecord", "get_job_type", "job_type_names", "register"]


def register(cls: type[JobType]) -> type[JobType]:
    if cls.name in _REGISTRY:
        raise RuntimeError(f"job type {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    for module in JOB_TYPE_MODULES:
        importlib.import_module(module)


def job_type_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_job_type(name: str) -> JobType:
    _load_all()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ConfigError(
            f"unknown job type {name!r}; known job types: {', '.join(sorted(_REGISTRY))}"
        ) from None
