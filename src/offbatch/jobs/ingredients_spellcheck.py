"""ingredients-spellcheck: correct the main ingredients text of products, as Robotoff does.

Extraction follows Robotoff's query: the ``main`` ingredients text, the product language, and
products whose fraction of unknown ingredients is in ``(min_fraction, max_fraction]``, most
popular first. It also carries, for reviewers, the product's ``main`` name and the reference of
its ingredients photo in the product language (``<key>.<rev>`` from the dump's ``images``, e.g.
``ingredients_fr.12``) through input, output and prediction data to the insight.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from offbatch.engines.base import Engine, SpellcheckInput
from offbatch.jobs import register
from offbatch.jobs.base import PREDICTION_COLUMNS, JobType, PredictionRecord


class SpellcheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=10_000, ge=1)
    min_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    max_fraction: float = Field(default=0.4, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> SpellcheckParams:
        if self.min_fraction >= self.max_fraction:
            raise ValueError("min_fraction must be below max_fraction")
        return self


_FRACTION = "CAST(unknown_ingredients_n AS DOUBLE) / ingredients_n"


@register
class IngredientsSpellcheck(JobType):
    name = "ingredients-spellcheck"
    prediction_type = "ingredient_spellcheck"
    dataset_columns = ("code", "lang", "ingredients_text", "ingredients_n", "unknown_ingredients_n", "popularity_key")
    dataset_types: ClassVar[dict[str, pa.DataType]] = {
        "code": pa.string(),
        "lang": pa.string(),
        "ingredients_text": pa.list_(pa.struct([("lang", pa.string()), ("text", pa.string())])),
        "ingredients_n": pa.float64(),
        "unknown_ingredients_n": pa.float64(),
        "popularity_key": pa.int64(),
    }
    Params = SpellcheckParams
    optional_dataset_columns: ClassVar[dict[str, str]] = {
        "product_name": 'STRUCT(lang VARCHAR, "text" VARCHAR)[]',
        "images": 'STRUCT("key" VARCHAR, rev INTEGER)[]',
    }
    optional_fields = frozenset({"name", "image"})
    input_schema = pa.schema(
        [
            ("code", pa.string()),
            ("lang", pa.string()),
            ("text", pa.string()),
            ("fraction", pa.float64()),
            ("popularity_key", pa.int64()),
            ("name", pa.string()),
            ("image", pa.string()),
        ]
    )
    output_schema = pa.schema(
        [
            ("code", pa.string()),
            ("lang", pa.string()),
            ("original", pa.string()),
            ("correction", pa.string()),
            ("truncated", pa.bool_()),
            ("engine", pa.string()),
            ("engine_version", pa.string()),
            ("name", pa.string()),
            ("image", pa.string()),
        ]
    )

    def extraction_query(self, params: BaseModel) -> tuple[str, list[Any]]:
        assert isinstance(params, SpellcheckParams)
        sql = f"""
            SELECT CAST(code AS VARCHAR) AS code, CAST(lang AS VARCHAR) AS lang, text,
                   {_FRACTION} AS fraction, CAST(popularity_key AS BIGINT) AS popularity_key,
                   name, image
            FROM (
                SELECT code, lang, popularity_key, unknown_ingredients_n, ingredients_n,
                       list_filter(ingredients_text, lambda x: x.lang = 'main')[1].text AS text,
                       list_filter(product_name, lambda x: x.lang = 'main')[1].text AS name,
                       list_transform(
                           list_filter(images, lambda x: x.key = 'ingredients_' || lang AND x.rev IS NOT NULL),
                           lambda x: x.key || '.' || CAST(x.rev AS VARCHAR))[1] AS image
                FROM dataset
            )
            WHERE text IS NOT NULL AND trim(text) != ''
              AND ingredients_n > 0
              AND {_FRACTION} > ? AND {_FRACTION} <= ?
            ORDER BY popularity_key DESC NULLS LAST, code
            LIMIT ?
        """
        return sql, [params.min_fraction, params.max_fraction, params.limit]

    def process(self, batch: pa.RecordBatch, engine: Engine) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist()
        results = engine.correct(
            [SpellcheckInput(text=t or "", lang=lang or "") for t, lang in zip(texts, langs, strict=True)]
        )
        if len(results) != len(texts):
            raise RuntimeError(f"engine {engine.name} returned {len(results)} results for {len(texts)} inputs")
        n = len(texts)
        return pa.RecordBatch.from_arrays(
            [
                batch.column("code"),
                batch.column("lang"),
                batch.column("text"),
                # A row without text has nothing to correct: its correction stays null.
                pa.array([None if t is None else r.correction for t, r in zip(texts, results, strict=True)],
                         pa.string()),
                pa.array([r.truncated for r in results], pa.bool_()),
                pa.array([engine.name] * n, pa.string()),
                pa.array([engine.version] * n, pa.string()),
                batch.column("name"),
                batch.column("image"),
            ],
            schema=self.output_schema,
        )

    def predictions(self, batch: pa.RecordBatch) -> Iterator[PredictionRecord]:
        # Column by column: a dict per row (batch.to_pylist) was a visible part of the import.
        columns = batch.to_pydict()
        n = batch.num_rows
        for code, lang, original, correction, truncated, engine, version, name, image in zip(
            columns["code"], columns["lang"], columns["original"], columns["correction"], columns["truncated"],
            columns["engine"], columns["engine_version"], columns.get("name", [None] * n),
            columns.get("image", [None] * n),
        ):
            data = {"original": original, "correction": correction, "lang": lang, "truncated": bool(truncated)}
            # For reviewers (the review page shows them); absent when the dump has none.
            if name:
                data["name"] = name
            if image:
                data["image"] = image
            yield PredictionRecord(
                barcode=code,
                value_tag=lang,
                data=data,
                predictor=engine,
                predictor_version=version,
                actionable=correction != original and not truncated,
            )

    def prediction_columns(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        # Only the import builds these: a launch, which loads this module before it submits the
        # job, does not wait for pyarrow.compute (~40 ms of CPU).
        import pyarrow.compute as pc

        from offbatch.jobs import json_columns

        # ``predictions`` in Arrow compute, for the importer: no Python object per row.
        n = batch.num_rows
        original, correction, lang = (batch.column(c) for c in ("original", "correction", "lang"))
        truncated = json_columns.false_if_null(batch.column("truncated"))
        members = [
            ("original", json_columns.text(original), None),
            ("correction", json_columns.text(correction), None),
            ("lang", json_columns.text(lang), None),
            ("truncated", json_columns.boolean(truncated), None),
        ]
        for name in ("name", "image"):
            if name in batch.schema.names:
                values = batch.column(name)
                members.append((name, json_columns.text(values), json_columns.truthy(values)))
        # Python's ``correction != original`` on nullable strings: unequal when exactly one is null.
        changed = pc.coalesce(pc.not_equal(correction, original), pc.xor(pc.is_null(correction), pc.is_null(original)))
        columns = [batch.column("code"), lang, json_columns.obj(members), batch.column("engine"),
                   batch.column("engine_version"), pc.and_(changed, pc.invert(truncated))]
        return pa.RecordBatch.from_arrays(
            [c.cast(f.type) for c, f in zip(columns, PREDICTION_COLUMNS)] if n else
            [pa.array([], f.type) for f in PREDICTION_COLUMNS],
            schema=PREDICTION_COLUMNS,
        )
