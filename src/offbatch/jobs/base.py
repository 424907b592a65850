"""The job-type contract: how a kind of work extracts its input, runs, and imports.

A job type is registered by name (``@register``); nothing dispatches on job-type strings.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
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


# ``JobType.prediction_columns``: predictions as columns, each one's data as JSON text.
PREDICTION_COLUMNS = pa.schema(
    [
        ("barcode", pa.string()),
        ("value_tag", pa.string()),
        ("data", pa.string()),
        ("predictor", pa.string()),
        ("predictor_version", pa.string()),
        ("actionable", pa.bool_()),
    ]
)


def prediction_columns_of(records: Iterable[PredictionRecord]) -> pa.RecordBatch:
    """``records`` as ``PREDICTION_COLUMNS``, row by row (``json.dumps`` of each one's data)."""
    records = list(records)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([r.barcode for r in records], pa.string()),
            pa.array([r.value_tag for r in records], pa.string()),
            pa.array([json.dumps(r.data) for r in records], pa.string()),
            pa.array([r.predictor for r in records], pa.string()),
            pa.array([r.predictor_version for r in records], pa.string()),
            pa.array([r.actionable for r in records], pa.bool_()),
        ],
        schema=PREDICTION_COLUMNS,
    )


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
    # Dataset columns used when present, with the DuckDB type a NULL stands in for when a dump
    # lacks them (e.g. product names and photos: nice to have, not needed to run).
    optional_dataset_columns: ClassVar[dict[str, str]] = {}
    # Input/output columns that parts written before they existed lack (read as nulls), so that
    # older jobs still resume and import.
    optional_fields: ClassVar[frozenset[str]] = frozenset()

    def null_filled(self, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
        """``batch`` with the optional fields of ``schema`` it lacks added as nulls."""
        absent = [f for f in schema if f.name not in batch.schema.names and f.name in self.optional_fields]
        if not absent:
            return batch
        columns = {name: batch.column(name) for name in batch.schema.names}
        columns |= {f.name: pa.nulls(batch.num_rows, f.type) for f in absent}
        return pa.RecordBatch.from_arrays([columns[f.name] for f in schema if f.name in columns],
                                          names=[f.name for f in schema if f.name in columns])

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

    def prediction_columns(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The predictions of ``batch`` (those of ``predictions``, in order) as columns of
        ``PREDICTION_COLUMNS``, each data as JSON text of the same value.

        What the importer reads. This default goes through ``predictions`` and ``json.dumps``
        row by row; a job type with large outputs overrides it with Arrow compute (see
        ``offbatch.jobs.json_columns``), and a test checks both give the same predictions.
        """
        return prediction_columns_of(self.predictions(batch))
