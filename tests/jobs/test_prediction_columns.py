"""The spellcheck job type's columnar predictions (Arrow compute, what the importer reads) are
the predictions of its row-by-row ``predictions``, data for data, whatever the texts hold."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from offbatch.jobs import get_job_type
from offbatch.jobs.base import PREDICTION_COLUMNS, JobType

JOB_TYPE = get_job_type("ingredients-spellcheck")
SCHEMA = JOB_TYPE.output_schema


def row_by_row(batch: pa.RecordBatch) -> list[dict]:
    return JobType.prediction_columns(JOB_TYPE, batch).to_pylist()


def assert_same_predictions(batch: pa.RecordBatch) -> None:
    fast = JOB_TYPE.prediction_columns(batch)
    assert fast.schema == PREDICTION_COLUMNS
    slow = row_by_row(batch)
    assert len(fast.to_pylist()) == len(slow)
    for got, want in zip(fast.to_pylist(), slow):
        assert json.loads(got.pop("data")) == json.loads(want.pop("data"))
        assert got == want


def test_quotes_backslashes_controls_unicode_and_nulls_encode_as_row_by_row():
    rows = [
        {"code": "1", "lang": "fr", "original": 'lait "entier" \\ sucre é', "correction": 'lait "entier" \\ sucré é',
         "truncated": False, "engine": "cpu", "engine_version": "1", "name": "Pâte \"à\" tartiner", "image": ""},
        {"code": "2", "lang": None, "original": None, "correction": None, "truncated": None, "engine": "cpu",
         "engine_version": "1", "name": None, "image": "ingredients_fr.3"},
        {"code": "3", "lang": "en", "original": "milk\nsugar\t\x01\x1f", "correction": None, "truncated": True,
         "engine": "cpu", "engine_version": "1", "name": "\u2028 😀 \x7f", "image": None},
        {"code": "", "lang": "de", "original": "same", "correction": "same", "truncated": False, "engine": None,
         "engine_version": "2", "name": "", "image": "i"},
    ]
    assert_same_predictions(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))


def test_parts_without_the_optional_columns_and_empty_batches():
    older = pa.schema([f for f in SCHEMA if f.name not in ("name", "image")])
    rows = [{"code": "1", "lang": "fr", "original": "a", "correction": "b", "truncated": False, "engine": "cpu",
             "engine_version": "1"}]
    assert_same_predictions(pa.RecordBatch.from_pylist(rows, schema=older))
    assert JOB_TYPE.prediction_columns(pa.RecordBatch.from_pylist([], schema=SCHEMA)).num_rows == 0


def test_large_string_columns():
    schema = pa.schema([f.with_type(pa.large_string()) if f.type == pa.string() else f for f in SCHEMA])
    rows = [{"code": "1", "lang": "fr", "original": "a\"", "correction": "b", "truncated": False, "engine": "cpu",
             "engine_version": "1", "name": "n", "image": None}]
    assert_same_predictions(pa.RecordBatch.from_pylist(rows, schema=schema))


texts = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["", "sucre", "a\"b\\c", "\n", "\t\x00"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "code": texts, "lang": texts, "original": texts, "correction": texts,
    "truncated": st.one_of(st.none(), st.booleans()), "engine": texts, "engine_version": texts,
    "name": texts, "image": texts,
}), max_size=8))
def test_any_texts_encode_as_row_by_row(rows):
    assert_same_predictions(pa.RecordBatch.from_pylist(rows, schema=SCHEMA))
