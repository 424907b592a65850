"""The bulk writer's bookkeeping: each new prediction's id, and the insight lookup's index."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from sqlalchemy import event, select

from offbatch.db.models import Insight, Prediction
from offbatch.imports import derive as insight_rules
from offbatch.imports import run_import, writer
from offbatch.jobs.base import PREDICTION_COLUMNS
from tests.conftest import output_row


def fix(code, **kw):
    return output_row(code, original="lait, sucer", correction="lait, sucre", **kw)


def test_every_insight_points_to_its_own_prediction(db, settings, make_job):
    # Another job's rows come first and interleave nothing; the second part repeats barcodes of
    # the first (a chunk that collides, read back), the others go in whole (ids from the count).
    first = make_job([[fix("a0"), fix("a1", lang="en")]])
    run_import(settings, db, first.id)
    part1 = [fix(f"{i}") if i % 2 else output_row(f"{i}") for i in range(7)]
    part2 = [fix("1"), fix("8"), output_row("3"), fix("9", lang="de"), fix("3", lang="it")]
    job = make_job([part1, part2])
    run = run_import(settings, db, job.id, chunk_rows=3)
    assert (run.predictions_created, run.rows_skipped) == (10, 2)
    with db.session() as s:
        found = s.execute(
            select(Insight.barcode, Insight.value_tag, Prediction.barcode, Prediction.value_tag, Prediction.job_id)
            .join(Prediction, Prediction.id == Insight.prediction_id)
            .where(Insight.job_id == job.id)
        ).all()
    assert sorted(found) == sorted(
        (b, tag, b, tag, job.id) for b, tag in [("1", "fr"), ("3", "fr"), ("5", "fr"), ("8", "fr"), ("9", "de"),
                                                  ("3", "it")]
    )


def _insert(conn, job_id: str, codes: list[str]) -> list[int | None]:
    n = len(codes)
    columns = pa.RecordBatch.from_arrays(
        [pa.array(codes), pa.array(["fr"] * n), pa.array(["{}"] * n), pa.array(["cpu"] * n), pa.array(["1"] * n),
         pa.array([True] * n)], schema=PREDICTION_COLUMNS)
    return writer.insert_predictions(conn, writer.json_payload(columns), [(c, "fr") for c in codes], job_id=job_id,
                                     prediction_type="ingredient_spellcheck",
                                     created_at=writer.timestamp("sqlite", datetime.now(UTC)))


def test_sqlite_new_ids_in_row_order_none_for_rows_already_there(db, make_job):
    if not db.is_sqlite:
        pytest.skip("the SQLite writer")
    job, other = make_job([[]], write=False), make_job([[]], write=False)
    with db.engine.begin() as conn:
        assert _insert(conn, other.id, ["x", "y"]) == [1, 2]
    with db.engine.begin() as conn:
        first = _insert(conn, job.id, ["a", "b", "c"])
    with db.engine.begin() as conn:
        second = _insert(conn, job.id, ["d", "b", "e", "a"])
    with db.session() as s:
        stored = dict(s.execute(select(Prediction.barcode, Prediction.id).where(Prediction.job_id == job.id)).all())
    assert first == [stored["a"], stored["b"], stored["c"]] == [3, 4, 5]
    assert second == [stored["d"], None, stored["e"], None] == [6, None, 7, None]


def test_sqlite_insight_lookup_probes_the_barcode_index_not_the_type(db):
    # Left free, SQLite read every insight of the type at every chunk (the import slowed as the
    # table grew). The plan must probe by barcode, whatever the table holds.
    if not db.is_sqlite:
        pytest.skip("SQLite's planner")
    plans: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "insights" in statement:
            plans.extend(row[3] for row in cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))

    with db.engine.connect() as conn:
        insight_rules._existing(conn, "ingredient_spellcheck", ["1", "2"])
    assert any("ix_insights_barcode" in p for p in plans), plans
    assert not any("ix_insights_type" in p for p in plans), plans
