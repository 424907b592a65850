"""Job folders on GCS, through gcsfs against gcp-storage-emulator on 127.0.0.1 (no Google).

The same ``storage`` and ``extract`` code as ``file://``; only the URL changes.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from offbatch import storage
from offbatch.errors import StorageError
from offbatch.extract import extract
from offbatch.jobs import get_job_type
from offbatch.storage import JobFolder

pytest.importorskip("gcsfs")
pytest.importorskip("gcp_storage_emulator.server")


SAMPLE = Path(storage.__file__).parent / "data" / "off-food-sample.parquet"


def test_the_core_gcsfs_class_is_used_so_no_bucket_type_probe_can_stall(gs) -> None:
    fs, path = storage.filesystem(gs)
    assert type(fs).__module__ == "gcsfs.core"
    assert path == gs.removeprefix("gs://")


def test_json_round_trip(gs) -> None:
    url = f"{gs}/jt/job-1/job.json"
    assert not storage.exists(url)
    storage.write_json(url, {"job_id": "job-1", "rows": 3})
    assert storage.exists(url)
    assert storage.read_json(url) == {"job_id": "job-1", "rows": 3}


def test_atomic_write_appears_whole_and_only_on_success(gs) -> None:
    url = f"{gs}/out/part-00000.parquet"
    big = b"x" * (7 * 2**20)  # several resumable-upload chunks
    with storage.open_atomic(url) as f:
        f.write(big[: 2**20])
        assert not storage.exists(url)  # nothing visible while writing
        f.write(big[2**20:])
    assert storage.read_bytes(url) == big

    failed = f"{gs}/out/part-00001.parquet"
    with pytest.raises(RuntimeError), storage.open_atomic(failed) as f:
        f.write(b"partial")
        raise RuntimeError("worker crashed")
    assert not storage.exists(failed)
    fs, path = storage.filesystem(gs)
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(path)) == ["part-00000.parquet"]  # no temporaries


def test_a_staged_path_is_uploaded_whole_and_only_on_success(gs) -> None:
    url = f"{gs}/staged/part-00000.parquet"
    with storage.staged_path(url) as path:
        Path(path).write_bytes(b"y" * (3 * 2**20))
        assert not storage.exists(url)
    assert storage.read_bytes(url) == b"y" * (3 * 2**20)

    failed = f"{gs}/staged/part-00001.parquet"
    with pytest.raises(RuntimeError), storage.staged_path(failed) as path:
        Path(path).write_bytes(b"partial")
        raise RuntimeError("writer crashed")
    assert not storage.exists(failed)
    assert not Path(path).exists()  # the local staging file is gone too


def test_list_parts_sees_only_finished_parts_and_fresh_writes(gs) -> None:
    folder = f"{gs}/output"
    assert storage.list_parts(folder) == []
    storage.write_bytes_atomic(storage.part_url(folder, 1), b"b")
    assert storage.list_parts(folder) == [f"{folder}/part-00001.parquet"]
    storage.write_bytes_atomic(storage.part_url(folder, 0), b"a")
    storage.write_bytes_atomic(f"{folder}/notes.txt", b"not a part")
    assert storage.list_parts(folder) == [f"{folder}/part-00000.parquet", f"{folder}/part-00001.parquet"]


def test_remove_a_job_folder(gs) -> None:
    storage.write_json(f"{gs}/job/job.json", {})
    storage.write_bytes_atomic(f"{gs}/job/input/part-00000.parquet", b"x")
    storage.remove(f"{gs}/job", recursive=True)
    assert not storage.exists(f"{gs}/job/job.json")
    assert storage.list_parts(f"{gs}/job/input") == []
    storage.remove(f"{gs}/job", recursive=True)  # removing what is gone is fine


def test_missing_object_is_a_storage_error(gs) -> None:
    with pytest.raises(StorageError, match="missing object"):
        storage.read_json(f"{gs}/nope.json")


def _rows(url: str) -> list[dict]:
    fs, path = storage.filesystem(url)
    with fs.open(path, "rb") as f:
        return pq.read_table(f).to_pylist()


def test_extraction_writes_the_same_parts_to_gcs_as_to_a_folder(gs, tmp_path) -> None:
    job_type = get_job_type("ingredients-spellcheck")
    params = job_type.Params(limit=200)
    on_gcs = extract(dataset=str(SAMPLE), job_type=job_type, params=params, task_count=2,
                     folder=JobFolder(gs, job_type.name, "job-1"))
    on_disk = extract(dataset=str(SAMPLE), job_type=job_type, params=params, task_count=2,
                      folder=JobFolder(tmp_path.as_uri(), job_type.name, "job-1"))
    assert on_gcs.rows == on_disk.rows == 200 and on_gcs.shard_rows == on_disk.shard_rows == [100, 100]
    gcs_parts = storage.list_parts(JobFolder(gs, job_type.name, "job-1").input_url)
    disk_parts = storage.list_parts(JobFolder(tmp_path.as_uri(), job_type.name, "job-1").input_url)
    assert [p.rsplit("/", 1)[-1] for p in gcs_parts] == ["part-00000.parquet", "part-00001.parquet"]
    assert [_rows(p) for p in gcs_parts] == [_rows(p) for p in disk_parts]


def test_extraction_reads_the_dataset_from_gcs(gs) -> None:
    dataset = f"{gs}/dumps/food.parquet"
    storage.write_bytes_atomic(dataset, SAMPLE.read_bytes())
    job_type = get_job_type("ingredients-spellcheck")
    result = extract(dataset=dataset, job_type=job_type, params=job_type.Params(limit=50), task_count=1,
                     folder=JobFolder(gs, job_type.name, "job-2"))
    assert result.rows == 50
