"""Extraction on the real OFF sample, with Robotoff's filters."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from offbatch.errors import DatasetError, StorageError
from offbatch.extract import _duckdb_type, _writers, connect, extract, select, write_shards
from offbatch.jobs import get_job_type, job_type_names
from offbatch.storage import JobFolder
from tests.conftest import SAMPLE

JOB_TYPE = get_job_type("ingredients-spellcheck")


def run(tmp_path, dataset=str(SAMPLE), task_count=1, **params):
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    result = extract(dataset=dataset, job_type=JOB_TYPE, params=JOB_TYPE.Params(**params), folder=folder,
                     task_count=task_count)
    return result, folder


def read(url: str) -> pa.Table:
    return pq.read_table(url.removeprefix("file://"))


def test_default_filters_select_539_products_most_popular_first(tmp_path):
    result, folder = run(tmp_path)
    assert result.rows == 539
    table = read(folder.input_part(0))
    assert table.num_rows == 539
    first = table.slice(0, 1).to_pylist()[0]
    assert first["code"] == "0009800895007"
    assert first["lang"] == "en"
    assert first["text"].startswith("sugar, palm oil, hazelnuts, cocoa, skim milk")
    assert first["fraction"] == pytest.approx(1 / 9)
    popularity = table.column("popularity_key").to_pylist()
    assert popularity == sorted(popularity, reverse=True)


def test_fraction_bounds_are_exclusive_below_and_inclusive_above(tmp_path):
    _, folder = run(tmp_path, min_fraction=0.1, max_fraction=0.2)
    fractions = read(folder.input_part(0)).column("fraction").to_pylist()
    assert fractions and all(0.1 < f <= 0.2 for f in fractions)
    assert any(f == pytest.approx(0.2) for f in fractions)


def test_limit_keeps_the_most_popular(tmp_path):
    result, folder = run(tmp_path, limit=10)
    assert result.rows == 10
    _, full_folder = run(tmp_path / "full")
    codes = read(full_folder.input_part(0)).column("code").to_pylist()
    assert read(folder.input_part(0)).column("code").to_pylist() == codes[:10]


def test_shards_are_balanced_and_cover_every_row_once(tmp_path):
    result, folder = run(tmp_path, task_count=4)
    assert result.shard_rows == [135, 135, 135, 134]
    codes = [c for i in range(4) for c in read(folder.input_part(i)).column("code").to_pylist()]
    assert len(codes) == len(set(codes)) == 539


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="dataset not found"):
        run(tmp_path, dataset=str(tmp_path / "nope.parquet"))


def test_corrupt_dataset_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DatasetError, match="cannot read dataset"):
        run(tmp_path, dataset=str(bad))


def test_missing_columns_are_named(tmp_path):
    partial = tmp_path / "partial.parquet"
    con = duckdb.connect()
    pq.write_table(con.sql("SELECT code, lang FROM read_parquet(?)", params=[str(SAMPLE)]).to_arrow_table(), partial)
    with pytest.raises(DatasetError, match="lacks required columns: ingredients_text, ingredients_n"):
        run(tmp_path, dataset=str(partial))


def test_an_empty_selection_is_an_error_and_writes_nothing(tmp_path):
    no_text = tmp_path / "no-text.parquet"
    con = duckdb.connect()
    table = con.sql("SELECT * FROM read_parquet(?) WHERE len(list_filter(ingredients_text, lambda x: x.lang = 'main')) = 0", params=[str(SAMPLE)]).to_arrow_table()
    assert table.num_rows > 0
    pq.write_table(table, no_text)
    with pytest.raises(DatasetError, match="selected no products"):
        run(tmp_path, dataset=str(no_text))
    assert not (tmp_path / JOB_TYPE.name).exists()


def test_select_counts_without_writing(tmp_path):
    con = duckdb.connect()
    assert select(con, dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params()) == 539


def test_product_name_and_ingredients_photo_are_carried(tmp_path):
    _, folder = run(tmp_path)
    rows = {r["code"]: r for r in read(folder.input_part(0)).to_pylist()}
    first = rows["0009800895007"]
    assert first["name"]  # the dump's "main" product name
    photos = [r for r in rows.values() if r["image"]]
    assert photos, "the sample has products with an ingredients photo"
    # <key>.<rev> of the photo in the product's own language.
    assert all(r["image"].startswith(f"ingredients_{r['lang']}.") and r["image"].rsplit(".", 1)[1].isdigit()
               for r in photos)
    con = duckdb.connect()
    ((key, rev),) = con.sql(
        "SELECT i.key, i.rev FROM (SELECT unnest(images) AS i FROM read_parquet(?) WHERE code = ?) "
        "WHERE i.key = 'ingredients_' || ?", params=[str(SAMPLE), photos[0]["code"], photos[0]["lang"]]).fetchall()
    assert photos[0]["image"] == f"{key}.{rev}"


def test_a_dump_without_names_or_photos_still_extracts(tmp_path):
    partial = tmp_path / "no-names.parquet"
    con = duckdb.connect()
    pq.write_table(con.sql("SELECT * EXCLUDE (product_name, images) FROM read_parquet(?)",
                           params=[str(SAMPLE)]).to_arrow_table(), partial)
    result, folder = run(tmp_path, dataset=str(partial))
    table = read(folder.input_part(0))
    assert result.rows == 539
    assert set(table.column("name").to_pylist()) == {None} and set(table.column("image").to_pylist()) == {None}


@pytest.mark.parametrize(("column", "values", "found", "expected"), [
    ("ingredients_n", pa.array(["3"] * 3), "string", "double"),
    ("code", pa.array([1, 2, 3], pa.int64()), "int64", "string"),
    ("ingredients_text", pa.array(["sucre"] * 3), "string", "list<item: struct<lang: string, text: string>>"),
])
def test_a_wrong_typed_column_names_the_column_and_the_expected_type(tmp_path, column, values, found, expected):
    table = pq.read_table(SAMPLE).slice(0, 3)
    table = table.set_column(table.schema.get_field_index(column), column, values)
    dataset = tmp_path / "typed.parquet"
    pq.write_table(table, dataset)
    with pytest.raises(DatasetError) as raised:
        run(tmp_path, dataset=str(dataset))
    assert raised.value.message == f"dataset {dataset}: column {column!r} is {found}, expected {expected}"


def test_integer_widths_and_extra_struct_fields_are_accepted(tmp_path):
    table = pq.read_table(SAMPLE).slice(0, 50)
    table = table.set_column(table.schema.get_field_index("popularity_key"), "popularity_key",
                             table.column("popularity_key").cast(pa.int32()))
    dataset = tmp_path / "narrow.parquet"
    pq.write_table(table, dataset)
    assert run(tmp_path, dataset=str(dataset))[0].rows > 0


def test_fewer_rows_than_tasks_make_one_part_per_row(tmp_path):
    result, folder = run(tmp_path, task_count=4, limit=2)
    assert result.rows == 2 and result.shard_rows == [1, 1]
    assert not Path(folder.input_part(2).removeprefix("file://")).exists()


def test_a_selection_emptied_by_exclusion_counts_only_its_own_products(tmp_path):
    everything = pq.read_table(SAMPLE).column("code").combine_chunks()
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    result = extract(dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params(limit=7), folder=folder,
                     task_count=2, exclude_codes=everything)
    assert (result.rows, result.shard_rows, result.already_predicted) == (0, [], 7)


def test_each_shard_takes_every_nth_row_in_the_query_order(tmp_path):
    _, whole = run(tmp_path / "one")
    _, sharded = run(tmp_path / "four", task_count=4)
    ordered = read(whole.input_part(0)).column("code").to_pylist()
    for index in range(4):
        # Every popularity band dealt evenly, each part still most popular first.
        assert read(sharded.input_part(index)).column("code").to_pylist() == ordered[index::4]


def large_dataset(tmp_path: Path) -> Path:
    """300 renamed copies of the sample: ~160k selected rows, more than one row group of the
    table ``selected`` (122,880)."""
    dataset = tmp_path / "large.parquet"
    con = duckdb.connect()
    con.execute("COPY (SELECT code || '-' || lpad(i::VARCHAR, 3, '0') AS code, lang, ingredients_text, ingredients_n, "
                "unknown_ingredients_n, popularity_key "
                "FROM read_parquet(?), range(300) r(i)) TO ? (FORMAT parquet)", [str(SAMPLE), str(dataset)])
    con.close()
    return dataset


def test_parts_written_at_once_keep_the_query_order_across_table_row_groups(tmp_path):
    dataset = large_dataset(tmp_path)
    params = JOB_TYPE.Params(limit=1_000_000)
    con = connect()
    con.execute("SET threads = 4")
    rows = select(con, dataset=str(dataset), job_type=JOB_TYPE, params=params)
    sql, args = JOB_TYPE.extraction_query(params)
    # The query run again on its own (not through the table): the order the parts must follow.
    reference = [code for (code,) in con.execute(f"SELECT code FROM ({sql})", args).fetchall()]
    assert rows == len(reference) == 539 * 300
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    shard_rows = write_shards(con, job_type=JOB_TYPE, folder=folder, task_count=6)
    con.close()
    assert shard_rows == [len(reference[index::6]) for index in range(6)]
    for index in range(6):
        assert read(folder.input_part(index)).column("code").to_pylist() == reference[index::6]


def test_parts_hold_the_input_schema_and_nothing_else(tmp_path):
    _, folder = run(tmp_path, task_count=2)
    for index in range(2):
        schema = pq.ParquetFile(folder.input_part(index).removeprefix("file://")).schema_arrow
        assert schema.names == JOB_TYPE.input_schema.names
        assert [f.type for f in schema] == [f.type for f in JOB_TYPE.input_schema]
    names = sorted(p.name for p in Path(folder.input_url.removeprefix("file://")).iterdir())
    assert names == ["part-00000.parquet", "part-00001.parquet"]  # no temporary left beside them


def test_an_unwritable_input_folder_is_a_storage_error_and_leaves_no_part(tmp_path):
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    blocker = Path(folder.input_url.removeprefix("file://"))
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the input folder should be")
    with pytest.raises(StorageError, match=r"cannot write .*part-00000\.parquet"):
        extract(dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params(), folder=folder, task_count=2)
    assert blocker.read_text() == "a file where the input folder should be"


def test_parts_are_written_at_once_only_while_one_copy_leaves_threads_idle():
    # ~54k rows (100k products) are one table row group: one thread per COPY, so one writer a thread.
    assert _writers(54_000, task_count=8, threads=2) == 2
    # ~540k rows are five row groups: each COPY busies two threads by itself.
    assert _writers(540_000, task_count=8, threads=2) == 1
    assert _writers(540_000, task_count=8, threads=16) == 3
    assert _writers(54_000, task_count=3, threads=16) == 3  # never more writers than parts


def test_ctrl_c_while_parts_are_written_stops_every_writer_before_it_raises(tmp_path):
    con = connect()
    con.execute("SET threads = 4")
    select(con, dataset=str(large_dataset(tmp_path)), job_type=JOB_TYPE, params=JOB_TYPE.Params(limit=1_000_000))
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    inputs = Path(folder.input_url.removeprefix("file://"))
    main = threading.get_ident()

    def press_ctrl_c_once_a_part_is_being_written() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if inputs.exists() and any(p.name.startswith(".tmp") for p in inputs.iterdir()):
                signal.pthread_kill(main, signal.SIGINT)
                return
            time.sleep(0.0005)

    presser = threading.Thread(target=press_ctrl_c_once_a_part_is_being_written)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        write_shards(con, job_type=JOB_TYPE, folder=folder, task_count=6)
    presser.join()
    con.close()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("offbatch-part-")]
    names = sorted(p.name for p in inputs.iterdir())
    assert not [name for name in names if name.startswith(".tmp")]
    assert len(names) < 6  # stopped before every part was written


def test_ctrl_c_while_a_writer_thread_is_starting_still_waits_for_it(tmp_path, monkeypatch):
    # Ctrl-C can land inside Thread.start(), after the new thread is made and while start()
    # waits for it (seen once in CI): that writer runs all the same and must be waited for.
    import offbatch.extract as extract_module

    class InterruptedOnSecondStart(threading.Thread):
        def start(self) -> None:
            super().start()
            if self.name == "offbatch-part-1":
                time.sleep(0.3)  # its COPY under way
                raise KeyboardInterrupt

    monkeypatch.setattr(extract_module.threading, "Thread", InterruptedOnSecondStart)
    con = connect()
    con.execute("SET threads = 4")
    select(con, dataset=str(large_dataset(tmp_path)), job_type=JOB_TYPE, params=JOB_TYPE.Params(limit=1_000_000))
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    with pytest.raises(KeyboardInterrupt):  # not DuckDB's "connection is busy" from a running writer
        write_shards(con, job_type=JOB_TYPE, folder=folder, task_count=6)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("offbatch-part-")]
    con.close()
    inputs = Path(folder.input_url.removeprefix("file://"))
    assert not [p.name for p in inputs.iterdir() if p.name.startswith(".tmp")]


def test_of_parts_written_at_once_a_failed_one_is_named_and_leaves_no_temporary(tmp_path):
    folder = JobFolder(tmp_path.as_uri(), JOB_TYPE.name, "job")
    # A folder (not empty) where part 3 should go: its rename fails, the other parts' do not.
    (Path(folder.input_part(3).removeprefix("file://")) / "x").mkdir(parents=True)
    con = connect()
    con.execute("SET threads = 2")
    select(con, dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params())
    with pytest.raises(StorageError, match=r"cannot write .*part-00003\.parquet"):
        write_shards(con, job_type=JOB_TYPE, folder=folder, task_count=4)
    con.close()
    left = sorted(p.name for p in Path(folder.input_url.removeprefix("file://")).iterdir())
    assert not [name for name in left if name.startswith(".tmp")]


@pytest.mark.parametrize("name", job_type_names())
def test_every_job_types_input_columns_have_a_parquet_type_duckdb_writes(name):
    job_type = get_job_type(name)
    assert [_duckdb_type(job_type, field) for field in job_type.input_schema]


def test_an_input_column_type_parts_cannot_hold_is_named():
    with pytest.raises(TypeError, match=r"input column 'when' has type timestamp\[s\]"):
        _duckdb_type(JOB_TYPE, pa.field("when", pa.timestamp("s")))
