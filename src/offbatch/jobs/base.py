"""The job-type contract: how a kind of work extracts its input, runs, and imports.

A job type is registered by name (``@register``); nothing dispatches on job-type strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel

from offbatch.engines.base import Engine

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One prediction to store, derived from one output row (slots: the importer makes 100,000s)."""

    barcode: str
    value_tag: str | None
    data: dict[str, Any]
    predictor: str
    predictor_version: str
    # Whether the prediction may become an insight (e.g. not when nothing changed).
    actionable: bool


class JobType(ABC):
    name: ClassVar[str]
    prediction_type: ClassVar[str]
    # Columns the dataset must have for the extraction query.
    dataset_columns: ClassVar[tuple[str, ...]]
    # The Arrow types those columns must have, by kind: any string, any integer width, a float
    # accepts integers too, lists and structs by their children (a struct may have more fields).
    # A column of another type is a DatasetError naming it and the expected type.
    dataset_types: ClassVar[dict[str, pa.DataType]] = {}
    # Extraction parameters (validated; ``limit`` is common to every job type).
    Params: ClassVar[type[BaseModel]]
    input_schema: ClassVar[pa.Schema]
    output_schema: ClassVar[pa.Schema]

    def config_path(self, backend: str) -> Path:
        """The shipped config of this job type for ``backend``."""
        return CONFIG_DIR / self.name / f"{backend}.yaml"

    @abstractmethod
    def extraction_query(self, params: BaseModel) -> tuple[str, list[Any]]:
        """SQL (DuckDB) over the relation ``dataset`` and its bound parameters.

        Returns one row per item to process, in the order work should be dealt to shards,
        with exactly the columns of ``input_schema``.
        """

    @abstractmethod
    def process(self, batch: pa.RecordBatch, engine: Engine) -> pa.RecordBatch:
        """Run the engine over one chunk of input rows; return rows of ``output_schema``."""

    @abstractmethod
    def predictions(self, batch: pa.RecordBatch) -> Iterator[PredictionRecord]:
        """Turn output rows into predictions (the importer's input)."""
