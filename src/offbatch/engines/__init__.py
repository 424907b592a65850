"""Engine registry: names map to engine classes, imported lazily (vLLM is an optional extra)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from offbatch.engines.base import Correction, Engine, SpellcheckInput
from offbatch.errors import ConfigError, EngineError

if TYPE_CHECKING:
    from offbatch.settings import Settings

ENGINES: dict[str, str] = {
    "cpu": "offbatch.engines.cpu:CpuSpellcheckEngine",
    "vllm": "offbatch.engines.vllm:VllmSpellcheckEngine",
}

__all__ = ["ENGINES", "Correction", "Engine", "SpellcheckInput", "load_engine"]


def load_engine(name: str, *, settings: Settings | None = None, **options: object) -> Engine:
    """Build the engine registered under ``name``; a missing optional dependency says what to install.

    With ``settings``, the engine's own options are taken from them (``options`` win).
    """
    try:
        target = ENGINES[name]
    except KeyError:
        raise ConfigError(
            f"unknown engine {name!r}; known engines: {', '.join(sorted(ENGINES))}"
        ) from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise EngineError(
            f"engine {name!r} needs the missing package {e.name!r}",
            hint="install it with: pip install 'offbatch[vllm]'" if name == "vllm" else None,
        ) from e
    cls = getattr(module, class_name)
    if settings is not None:
        options = {**cls.options_from(settings), **options}
    return cls(**options)
