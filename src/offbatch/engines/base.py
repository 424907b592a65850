"""The engine contract: a model runner used inside a worker task.

An engine takes a batch of ingredient texts (with their language) and returns one
``Correction`` per input, in order. Engines are deterministic for a given ``version``; the
version goes into every prediction so that a rerun with a new model creates new predictions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from offbatch.settings import Settings

# A named check of the task's environment: returns what it saw, raises an OffbatchError otherwise.
Check = tuple[str, Callable[[], str]]


@dataclass(frozen=True)
class SpellcheckInput:
    text: str
    lang: str


@dataclass(frozen=True)
class Correction:
    """The engine's corrected text for one input.

    ``truncated`` is True when the output was cut (e.g. by a token limit); such outputs are
    imported as predictions but never become insights.
    """

    correction: str
    truncated: bool = False


class Engine(ABC):
    name: ClassVar[str]
    # Rows the worker hands to one ``correct`` call: several of the job's chunks at once when an
    # engine batches internally (vLLM); 0 means one chunk per call.
    batch_rows: int = 0

    @classmethod
    def options_from(cls, settings: Settings) -> dict[str, Any]:
        """Constructor options this engine takes from the settings (model, revision...)."""
        return {}

    def checks(self) -> list[Check]:
        """Checks of the machine to run, in order, before any row (the GPU, the model files)."""
        return []

    def load(self) -> str:
        """Load the model now (not at the first ``correct``); return what was loaded."""
        return self.version

    @property
    @abstractmethod
    def version(self) -> str:
        """A string identifying model and revision (e.g. ``cpu-spellcheck-1`` or ``repo@sha``)."""

    @abstractmethod
    def correct(self, items: Sequence[SpellcheckInput]) -> list[Correction]:
        """Return one Correction per item, in order. Must not raise on odd text."""

    def close(self) -> None:
        """Release resources (GPU memory, pools)."""
