"""The importer's rules, each in a named test, on every test database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select, text, update

from offbatch.db.models import ImportRun, Insight, Prediction
from offbatch.errors import ConflictError, ImportFailed
from offbatch.imports import ImportState, enqueue_import, run_import
from offbatch.imports.importer import MAX_TEXT_CHARS
from offbatch.jobs import get_job_type
from tests.conftest import output_row, wait_for

SCHEMA = get_job_type("ingredients-spellcheck").output_schema
# Parts written before the optional columns (product name, photo) existed.
SCHEMA_WITHOUT_OPTIONAL = pa.schema([f for f in SCHEMA if f.name not in ("name", "image")])


def count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def insights(db, barcode=None) -> list[Insight]:
    with db.session() as s:
        q = select(Insight).order_by(Insight.id)
        if barcode:
            q = q.where(Insight.barcode == barcode)
        return list(s.scalars(q))


def fix(code, **kw):
    return output_row(code, original="lait, sucer", correction="lait, sucre", **kw)


def test_imports_every_row_as_a_prediction(db, settings, make_job):
    job = make_job([[fix(f"{i:013d}") for i in range(30)], [output_row(f"9{i:012d}") for i in range(20)]])
    run = run_import(settings, db, job.id, chunk_rows=7)
    assert run.state == ImportState.SUCCEEDED
    assert (run.parts_done, run.rows_done, run.predictions_created, run.insights_created) == (2, 50, 50, 30)
    assert count(db, Prediction, Prediction.job_id == job.id) == 50
    with db.session() as s:
        p = s.scalars(select(Prediction).where(Prediction.barcode == "0000000000003")).one()
    assert (p.type, p.value_tag, p.predictor, p.predictor_version) == ("ingredient_spellcheck", "fr", "cpu", "1")
    assert p.data == {"original": "lait, sucer", "correction": "lait, sucre", "lang": "fr", "truncated": False}


def test_no_insight_when_correction_equals_original(db, settings, make_job):
    job = make_job([[output_row("1", original="sucre", correction="sucre")]])
    run = run_import(settings, db, job.id)
    assert run.predictions_created == 1 and insights(db) == []


def test_no_insight_when_output_truncated(db, settings, make_job):
    job = make_job([[fix("1", truncated=True)]])
    run_import(settings, db, job.id)
    assert count(db, Prediction) == 1 and insights(db) == []


def test_one_open_insight_per_product_and_language(db, settings, make_job):
    now = datetime.now(UTC)
    first = make_job([[fix("1", lang="fr"), fix("1", lang="en")]], created_at=now - timedelta(hours=1))
    second = make_job([[fix("1", lang="fr")]], created_at=now)
    run_import(settings, db, first.id)
    run = run_import(settings, db, second.id)
    assert (run.insights_created, run.insights_updated) == (0, 1)
    found = insights(db, "1")
    assert sorted(i.value_tag for i in found) == ["en", "fr"]
    assert all(i.annotation is None for i in found)


def test_newer_prediction_updates_open_insight(db, settings, make_job):
    now = datetime.now(UTC)
    old = make_job([[fix("1", version="1")]], created_at=now - timedelta(hours=1))
    new = make_job([[output_row("1", original="lait, sucer", correction="lait, sucré", version="2")]], created_at=now)
    run_import(settings, db, old.id)
    run_import(settings, db, new.id)
    (insight,) = insights(db)
    assert insight.job_id == new.id and insight.predictor_version == "2"
    assert insight.data["correction"] == "lait, sucré"
    with db.session() as s:
        assert s.get(Prediction, insight.prediction_id).job_id == new.id


def test_older_job_imported_late_does_not_overwrite_newer_insight(db, settings, make_job):
    now = datetime.now(UTC)
    old = make_job([[fix("1", version="old")]], created_at=now - timedelta(hours=1))
    new = make_job([[fix("1", version="new")]], created_at=now)
    run_import(settings, db, new.id)
    run = run_import(settings, db, old.id)
    assert run.insights_updated == 0 and run.predictions_created == 1
    (insight,) = insights(db)
    assert insight.predictor_version == "new"


def _sessions_waiting_on_a_lock(db) -> int:
    with db.engine.connect() as conn:  # its own transaction: pg_stat_activity is a snapshot per transaction
        return conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar()


def test_an_open_insight_created_meanwhile_by_another_import_is_updated_not_duplicated(db, settings, make_job):
    # Another import's transaction holds a new open insight for the same key, uncommitted, while
    # ours writes its chunk: ours waits on uq_insights_open, fails when the other commits,
    # retries the chunk and then updates that insight (SQLite: ours waits for the write lock).
    now = datetime.now(UTC)
    other = make_job([[fix("1", version="other")]], created_at=now - timedelta(hours=1))
    ours = make_job([[fix("1", version="ours")]], created_at=now)
    result: dict[str, ImportRun] = {}
    with db.engine.connect() as conn:
        tx = conn.begin()
        conn.execute(insert(Insight).values(
            barcode="1", type="ingredient_spellcheck", value_tag="fr", data={"original": "lait, sucer"},
            predictor="cpu", predictor_version="other", job_id=other.id,
        ))
        importer = threading.Thread(target=lambda: result.update(run=run_import(settings, db, ours.id)))
        importer.start()
        if db.engine.dialect.name == "postgresql":
            wait_for(lambda: _sessions_waiting_on_a_lock(db), what="the import to wait for the other insight")
        tx.commit()
    importer.join(timeout=60)
    assert (result["run"].insights_created, result["run"].insights_updated) == (0, 1)
    (insight,) = insights(db)
    assert insight.annotation is None and insight.job_id == ours.id and insight.predictor_version == "ours"


def _annotate(db, insight_id: int, annotation: int = 1) -> None:
    with db.session() as s:
        s.execute(update(Insight).where(Insight.id == insight_id).values(annotation=annotation))


def test_annotated_insight_is_never_overwritten_nor_asked_again(db, settings, make_job):
    now = datetime.now(UTC)
    first = make_job([[fix("1", version="1")]], created_at=now - timedelta(hours=1))
    rerun = make_job([[output_row("1", original="lait, sucer", correction="lait, sucrè", version="2")]], created_at=now)
    run_import(settings, db, first.id)
    (insight,) = insights(db)
    _annotate(db, insight.id, 0)
    run = run_import(settings, db, rerun.id)
    assert (run.predictions_created, run.insights_created, run.insights_updated) == (1, 0, 0)
    (after,) = insights(db)
    assert after.annotation == 0 and after.data == insight.data and after.predictor_version == "1"


def test_annotated_insight_with_changed_text_gets_a_new_open_insight(db, settings, make_job):
    now = datetime.now(UTC)
    first = make_job([[fix("1")]], created_at=now - timedelta(hours=1))
    changed = make_job([[output_row("1", original="farine, sucer", correction="farine, sucre")]], created_at=now)
    run_import(settings, db, first.id)
    _annotate(db, insights(db)[0].id)
    run = run_import(settings, db, changed.id)
    assert run.insights_created == 1
    annotated, open_ = insights(db)
    assert annotated.annotation == 1 and annotated.data["original"] == "lait, sucer"
    assert open_.annotation is None and open_.data["original"] == "farine, sucer"


def test_rerun_with_new_model_version_creates_new_predictions(db, settings, make_job):
    rows = [fix(str(i)) for i in range(5)]
    v1 = make_job([rows])
    v2 = make_job([[{**r, "engine_version": "2"} for r in rows]])
    run_import(settings, db, v1.id)
    run = run_import(settings, db, v2.id)
    assert run.predictions_created == 5
    assert count(db, Prediction) == 10
    assert count(db, Prediction, Prediction.predictor_version == "2") == 5
    assert len(insights(db)) == 5  # refreshed, not duplicated


def test_duplicate_barcodes_in_one_output_keep_the_first(db, settings, make_job):
    rows = [fix("1", version="a"), output_row("2"), fix("1", version="b")]
    other_part = [fix("1", version="c"), output_row("3")]
    job = make_job([rows, other_part])
    run = run_import(settings, db, job.id, chunk_rows=2)
    assert (run.rows_done, run.predictions_created, run.rows_skipped) == (5, 3, 2)
    with db.session() as s:
        (p,) = s.scalars(select(Prediction).where(Prediction.barcode == "1")).all()
    assert p.predictor_version == "a"
    assert len(insights(db)) == 1


def test_rows_without_barcode_or_with_oversized_keys_are_skipped(db, settings, make_job):
    job = make_job([[output_row(""), output_row("x" * 101), output_row("1", lang="l" * 101), output_row("2")]])
    run = run_import(settings, db, job.id)
    assert (run.predictions_created, run.rows_skipped) == (1, 3)


def test_huge_texts_are_clipped_and_never_become_insights(db, settings, make_job):
    big = "sucer, " * (MAX_TEXT_CHARS // 3)
    job = make_job([[output_row("1", original=big, correction=big.replace("sucer", "sucre"))]])
    run_import(settings, db, job.id)
    with db.session() as s:
        p = s.scalars(select(Prediction)).one()
    assert p.data["clipped"] is True and len(p.data["original"]) == MAX_TEXT_CHARS
    assert insights(db) == []


def test_invalid_utf8_and_nul_characters_are_repaired(db, settings, make_job):
    job = make_job([[]], write=False)
    bad = b"lait \xff\xfe sucer"
    data = bad + b"farine\x00 sucer" + b"1"
    offsets = pa.array([0, len(bad), len(bad) + 13, len(data)], pa.int32())
    texts = pa.StringArray.from_buffers(3, offsets.buffers()[1], pa.py_buffer(data))
    table = pa.table({
        "code": ["1", "2", "3"], "lang": ["fr"] * 3, "original": texts,
        "correction": ["lait sucre", "farine sucre", "1"], "truncated": [False] * 3,
        "engine": ["cpu"] * 3, "engine_version": ["1"] * 3,
    }, schema=SCHEMA_WITHOUT_OPTIONAL)
    path = Path(job.storage_url.removeprefix("file://")) / "output" / "part-00000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    run = run_import(settings, db, job.id)
    assert run.predictions_created == 3
    with db.session() as s:
        texts = dict(s.execute(select(Prediction.barcode, Prediction.data)).all())
    assert texts["1"]["original"] == "lait \ufffd\ufffd sucer"
    assert texts["2"]["original"] == "farine sucer"


def test_texts_with_tabs_newlines_backslashes_and_quotes_are_stored_as_they_are(db, settings, make_job):
    # The data is written as JSON text built in Arrow, and on PostgreSQL through COPY's text
    # format, where a tab, a newline, a carriage return and a backslash must be escaped.
    odd = 'lait\t"entier"\nsucer \\ farine\r\x01 é 😀'
    job = make_job([[
        {**fix("1"), "original": odd, "correction": odd.replace("sucer", "sucre"), "name": 'Pâte "à"\ttartiner\\',
         "image": "ingredients_fr.1"},
        {**output_row("2\t\\N"), "lang": "f\\r\n", "engine_version": "v\t1", "name": "", "image": None},
    ]])
    run = run_import(settings, db, job.id)
    assert (run.predictions_created, run.insights_created) == (2, 1)
    with db.session() as s:
        stored = {p.barcode: p for p in s.scalars(select(Prediction))}
    assert stored["1"].data == {"original": odd, "correction": odd.replace("sucer", "sucre"), "lang": "fr",
                                "truncated": False, "name": 'Pâte "à"\ttartiner\\', "image": "ingredients_fr.1"}
    assert (stored["2\t\\N"].value_tag, stored["2\t\\N"].predictor_version) == ("f\\r\n", "v\t1")
    assert stored["2\t\\N"].data == {"original": "sucre, farine", "correction": "sucre, farine", "lang": "f\\r\n",
                                     "truncated": False}
    [insight] = insights(db)
    assert insight.data == stored["1"].data and insight.prediction_id == stored["1"].id


def test_missing_columns_fail_clearly_and_write_nothing(db, settings, make_job):
    job = make_job([[fix("1")], []], write=False)
    folder = Path(job.storage_url.removeprefix("file://")) / "output"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([fix("1")], schema=SCHEMA), folder / "part-00000.parquet")
    pq.write_table(pa.table({"code": ["2"], "lang": ["fr"]}), folder / "part-00001.parquet")
    with pytest.raises(ImportFailed, match="part-00001.parquet .* lacks columns: original, correction"):
        run_import(settings, db, job.id)
    assert count(db, Prediction) == 0
    with db.session() as s:
        run = s.scalars(select(ImportRun)).one()
    assert run.state == ImportState.FAILED and "lacks columns" in run.error


def test_corrupt_part_fails_clearly_and_write_nothing(db, settings, make_job):
    job = make_job([[fix("1")], []], write=False)
    folder = Path(job.storage_url.removeprefix("file://")) / "output"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([fix("1")], schema=SCHEMA), folder / "part-00000.parquet")
    (folder / "part-00001.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(ImportFailed, match="part-00001.parquet of job .* is corrupt"):
        run_import(settings, db, job.id)
    assert count(db, Prediction) == 0


def test_job_with_missing_parts_is_not_importable_yet(db, settings, make_job):
    job = make_job([[fix("1")]], task_count=3)
    with pytest.raises(ConflictError, match="1/3 output parts exist"):
        run_import(settings, db, job.id)
    run = enqueue_import(db, job.id)
    assert run.state == ImportState.WAITING


def test_run_import_twice_imports_once(db, settings, make_job):
    job = make_job([[fix(str(i)) for i in range(10)]])
    first = run_import(settings, db, job.id)
    second = run_import(settings, db, job.id)
    assert second.id == first.id and second.finished_at == first.finished_at
    assert count(db, Prediction) == 10 and count(db, ImportRun) == 1


def test_empty_output_imports_nothing_and_succeeds(db, settings, make_job):
    job = make_job([[], []])
    run = run_import(settings, db, job.id)
    assert run.state == ImportState.SUCCEEDED and run.parts_done == 2 and run.rows_done == 0


def _write_part(job, index: int, table: pa.Table, **kw) -> Path:
    path = Path(job.storage_url.removeprefix("file://")) / "output" / f"part-{index:05d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kw)
    return path


def _failed_run(db) -> ImportRun:
    with db.session() as s:
        run = s.scalars(select(ImportRun)).one()
    assert run.state == ImportState.FAILED
    return run


def test_truncated_stored_as_strings_fails_naming_part_and_column_and_writes_nothing(db, settings, make_job):
    job = make_job([[], []], write=False)
    _write_part(job, 0, pa.Table.from_pylist([fix(str(i)) for i in range(10)], schema=SCHEMA))
    rows = [fix(str(i), truncated=False) for i in range(10, 28)]
    strings = pa.Table.from_pylist(
        [{**r, "truncated": "yes" if i % 2 else "false"} for i, r in enumerate(rows)],
        schema=SCHEMA.set(SCHEMA.get_field_index("truncated"), pa.field("truncated", pa.string())),
    )
    _write_part(job, 1, strings)
    with pytest.raises(ImportFailed, match=r"part-00001\.parquet of job .*: column truncated is string, expected bool"):
        run_import(settings, db, job.id, chunk_rows=4)
    assert count(db, Prediction) == 0 and insights(db) == []
    assert "column truncated" in _failed_run(db).error


def test_code_stored_as_int64_fails_naming_part_and_column_and_writes_nothing(db, settings, make_job):
    job = make_job([[]], write=False)
    table = pa.Table.from_pylist([fix(str(i)) for i in range(300)], schema=SCHEMA)
    table = table.set_column(0, pa.field("code", pa.int64()), pa.array(range(300), pa.int64()))
    _write_part(job, 0, table, row_group_size=50)
    with pytest.raises(ImportFailed, match=r"part-00000\.parquet of job .*: column code is int64, expected string"):
        run_import(settings, db, job.id, chunk_rows=30)
    assert count(db, Prediction) == 0
    _failed_run(db)


def test_large_string_columns_are_accepted(db, settings, make_job):
    job = make_job([[]], write=False)
    table = pa.Table.from_pylist([fix(str(i)) for i in range(5)], schema=SCHEMA)
    _write_part(job, 0, table.cast(pa.schema([
        pa.field(f.name, pa.large_string() if f.type == pa.string() else f.type) for f in SCHEMA
    ])))
    assert run_import(settings, db, job.id).predictions_created == 5


def test_a_part_with_corrupt_data_pages_and_an_intact_footer_leaves_no_rows(db, settings, make_job):
    job = make_job([[], []], write=False)
    _write_part(job, 0, pa.Table.from_pylist([fix(f"a{i}") for i in range(100)], schema=SCHEMA))
    path = _write_part(job, 1, pa.Table.from_pylist([fix(str(i)) for i in range(600)], schema=SCHEMA),
                       row_group_size=100)
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(meta.num_row_groups - 1).column(SCHEMA.get_field_index("original"))
    start = column.data_page_offset
    data = bytearray(path.read_bytes())
    # Garble the last row group's page (header and compressed data); the footer stays as written.
    data[start:start + column.total_compressed_size] = b"\xab" * column.total_compressed_size
    path.write_bytes(bytes(data))
    assert pq.ParquetFile(path).metadata.num_rows == 600  # the footer still reads
    with pytest.raises(ImportFailed, match=r"part-00001\.parquet of job .* is corrupt"):
        run_import(settings, db, job.id, chunk_rows=50)
    assert count(db, Prediction) == 0
    run = _failed_run(db)
    assert run.rows_done == 0 and run.parts_done == 0


def test_a_column_written_twice_fails_naming_part_and_column(db, settings, make_job):
    job = make_job([[]], write=False)
    table = pa.Table.from_pylist([fix("1")], schema=SCHEMA)
    _write_part(job, 0, table.append_column("code", pa.array(["2"])))
    with pytest.raises(ImportFailed, match=r"part-00000\.parquet of job .*: column code appears more than once"):
        run_import(settings, db, job.id)
    assert count(db, Prediction) == 0
