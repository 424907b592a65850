"""The engine contract: a model runner used inside a worker task.

An engine takes a batch of ingredient texts (with their language) and returns one
``Correction`` per input, in order. Engines are deterministic for a given ``version``; the
version goes into every prediction so that a rerun with a new model creates new predictions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


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

    @property
    @abstractmethod
    def version(self) -> str:
        """A string identifying model and revision (e.g. ``cpu-spellcheck-1`` or ``repo@sha``)."""

    @abstractmethod
    def correct(self, items: Sequence[SpellcheckInput]) -> list[Correction]:
        """Return one Correction per item, in order. Must not raise on odd text."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, pools)."""
