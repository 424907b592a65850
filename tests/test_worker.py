"""The task worker on real shards of the OFF sample: output, resume after SIGKILL, bad input, webhook."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import ClassVar

import pyarrow.parquet as pq
import pytest

from offbatch import contract
from offbatch.extract import extract
from offbatch.jobs import get_job_type
from offbatch.storage import JobFolder
from offbatch.worker import TaskEnv, main, notify
from tests.conftest import SAMPLE, wait_for

JOB_TYPE = get_job_type("ingredients-spellcheck")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def make_job(root: Path, job_id: str, *, task_count: int = 1, limit: int = 200) -> JobFolder:
    folder = JobFolder(root.as_uri(), JOB_TYPE.name, job_id)
    extract(dataset=str(SAMPLE), job_type=JOB_TYPE, params=JOB_TYPE.Params(limit=limit), folder=folder,
            task_count=task_count)
    return folder


def task_env(folder: JobFolder, *, index: int = 0, count: int = 1, chunk_size: int = 64, **extra) -> dict[str, str]:
    return {
        contract.JOB_ID: folder.job_id, contract.JOB_TYPE: JOB_TYPE.name, contract.INPUT_URL: folder.input_url,
        contract.OUTPUT_URL: folder.output_url, contract.ENGINE: "cpu", contract.CHUNK_SIZE: str(chunk_size),
        contract.TASK_INDEX: str(index), contract.TASK_COUNT: str(count), **extra,
    }


def read(url: str):
    return pq.read_table(url.removeprefix("file://"))


def test_writes_one_output_row_per_input_row(tmp_path):
    folder = make_job(tmp_path, "job-a", task_count=2)
    for index in range(2):
        assert main(task_env(folder, index=index, count=2)) == 0
    for index in range(2):
        inp, out = read(folder.input_part(index)), read(folder.output_part(index))
        assert out.schema == JOB_TYPE.output_schema
        assert out.column("code").to_pylist() == inp.column("code").to_pylist()
        assert out.column("original").to_pylist() == inp.column("text").to_pylist()
        assert set(out.column("engine").to_pylist()) == {"cpu"}
    # Only the parts are left: each task removed its own chunk folder.
    assert sorted(p.name for p in (tmp_path / JOB_TYPE.name / "job-a" / "output").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet"]


def test_tasks_share_no_chunk_folder_they_could_remove_under_each_other():
    from offbatch import storage

    # A task removes its chunk folder when its part is written; a folder shared by the tasks,
    # removed when it looked empty, raced another task creating its own inside (ENOENT, exit 1).
    output = "file:///jobs/j/output"
    folders = {storage.chunks_url(output, index) for index in range(8)}
    assert len(folders) == 8 and {f.rsplit("/", 1)[0] for f in folders} == {output}


def test_a_finished_shard_is_not_redone(tmp_path):
    folder = make_job(tmp_path, "job-b")
    assert main(task_env(folder)) == 0
    before = os.stat(folder.output_part(0).removeprefix("file://")).st_mtime_ns
    assert main(task_env(folder)) == 0
    assert os.stat(folder.output_part(0).removeprefix("file://")).st_mtime_ns == before


SLOW_WORKER = textwrap.dedent(
    """
    import sys, time
    from offbatch.jobs import get_job_type
    from offbatch.jobs.ingredients_spellcheck import IngredientsSpellcheck
    from offbatch import worker
    original = IngredientsSpellcheck.process
    def slow(self, batch, engine):
        time.sleep(0.3)  # widen the window in which the test kills the task
        return original(self, batch, engine)
    IngredientsSpellcheck.process = slow
    sys.exit(worker.main())
    """
)


def test_a_task_killed_mid_shard_resumes_to_identical_output(tmp_path):
    reference = make_job(tmp_path / "ref", "job-ref")
    assert main(task_env(reference, chunk_size=16)) == 0

    folder = make_job(tmp_path / "run", "job-killed")
    script = tmp_path / "slow_worker.py"
    script.write_text(SLOW_WORKER)
    env = {**os.environ, "PYTHONPATH": SRC, **task_env(folder, chunk_size=16)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    chunks = tmp_path / "run" / JOB_TYPE.name / "job-killed" / "output" / "_chunks-part-00000"
    wait_for(lambda: chunks.exists() and len(list(chunks.glob("chunk-*.parquet"))) >= 3, what="3 finished chunks")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(chunks.glob("chunk-*.parquet")))
    assert not Path(folder.output_part(0).removeprefix("file://")).exists()

    assert main(task_env(folder, chunk_size=16)) == 0
    assert read(folder.output_part(0)).equals(read(reference.output_part(0)))
    assert 3 <= done_before < 13  # 200 rows / 16 = 13 chunks: it really stopped half way


def test_a_corrupt_input_part_is_bad_input(tmp_path):
    folder = make_job(tmp_path, "job-c")
    Path(folder.input_part(0).removeprefix("file://")).write_bytes(b"garbage")
    assert main(task_env(folder)) == contract.EXIT_BAD_INPUT


def test_a_missing_environment_is_bad_input(tmp_path):
    assert main({contract.JOB_ID: "x"}) == contract.EXIT_BAD_INPUT


class Recorder(http.server.BaseHTTPRequestHandler):
    responses: ClassVar[list[int]] = []
    seen: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"auth": self.headers.get("Authorization"), "body": json.loads(body)})
        self.send_response(type(self).responses.pop(0))
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    Recorder.responses, Recorder.seen = [], []
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/batch/import"
    server.shutdown()


def _task(url: str) -> TaskEnv:
    return TaskEnv.from_env({**task_env(JobFolder("file:///x", JOB_TYPE.name, "job-n")),
                             contract.WEBHOOK_URL: url, contract.IMPORT_TOKEN: "the-token"})


def test_notify_retries_server_errors_with_backoff(endpoint):
    Recorder.responses = [503, 502, 202]
    delays = []
    assert notify(_task(endpoint), sleep=delays.append) is True
    assert delays == [2, 4]
    assert len(Recorder.seen) == 3
    assert Recorder.seen[0]["auth"] == "Bearer the-token"
    assert Recorder.seen[0]["body"] == {"job_id": "job-n", "job_type": JOB_TYPE.name, "task_index": 0}


def test_notify_does_not_retry_a_refusal(endpoint):
    Recorder.responses = [403]
    assert notify(_task(endpoint), sleep=lambda s: None) is False
    assert len(Recorder.seen) == 1


def test_notify_gives_up_after_bounded_attempts(endpoint):
    Recorder.responses = [500] * 5
    delays = []
    assert notify(_task(endpoint), sleep=delays.append) is False
    assert len(Recorder.seen) == 5 and len(delays) == 4


def test_a_shard_with_odd_rows_still_completes_and_imports_only_the_sound_ones(tmp_path, db, settings):
    import pyarrow as pa

    from offbatch.db.models import Job
    from offbatch.imports import run_import

    folder = JobFolder(settings.storage_root, JOB_TYPE.name, "ingredients-spellcheck-20261124-101010")
    rows = [
        {"code": "3000000000001", "lang": "fr", "text": "sucre, farine de blé", "fraction": 0.1, "popularity_key": 5},
        {"code": "3000000000002", "lang": "fr", "text": None, "fraction": 0.1, "popularity_key": 4},
        {"code": None, "lang": "fr", "text": "sel", "fraction": 0.1, "popularity_key": 3},
        {"code": "3000000000004", "lang": None, "text": "soy lecthin", "fraction": 0.1, "popularity_key": 2},
        {"code": "3000000000005", "lang": "en", "text": "x" * 300_000, "fraction": 0.1, "popularity_key": 1},
    ]
    part = Path(folder.input_part(0).removeprefix("file://"))
    part.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=JOB_TYPE.input_schema), part)
    assert main(task_env(folder)) == 0
    out = read(folder.output_part(0))
    assert out.num_rows == 5
    assert out.column("correction").to_pylist()[1] is None  # no text, nothing corrected

    with db.session() as s:
        s.add(Job(id=folder.job_id, job_type=JOB_TYPE.name, backend="local", backend_ref=folder.job_id,
                  state="SUCCEEDED", storage_url=folder.url, task_count=1, rows_selected=5, engine="cpu", config={}))
    run = run_import(settings, db, folder.job_id)
    assert run.rows_done == 5
    assert run.rows_skipped == 1  # the row without a barcode
    assert run.predictions_created == 4
    assert run.insights_created == 0  # nothing here is a sound, changed correction with a language


def test_an_engine_that_batches_gets_several_chunks_per_call_and_each_chunk_is_still_written(tmp_path):
    from offbatch.engines import load_engine
    from offbatch.worker import run

    reference = make_job(tmp_path / "ref", "job-ref")
    assert main(task_env(reference, chunk_size=16)) == 0

    folder = make_job(tmp_path / "win", "job-window")
    task = TaskEnv.from_env(task_env(folder, chunk_size=16))
    engine = load_engine("cpu")
    engine.batch_rows = 40  # 3 chunks of 16 per call: 200 rows = 13 chunks in 5 calls
    seen = []
    original = engine.correct
    engine.correct = lambda items: seen.append(len(items)) or original(items)
    counters = run(task, engine=engine)
    assert seen == [48, 48, 48, 48, 8]
    assert (counters["engine_calls"], counters["chunks_done"], counters["rows"]) == (5, 13, 200)
    assert read(folder.output_part(0)).equals(read(reference.output_part(0)))


def test_a_batching_engine_resumes_from_the_chunks_an_earlier_attempt_finished(tmp_path):
    from offbatch.engines import load_engine
    from offbatch.worker import run

    folder = make_job(tmp_path, "job-resume-window")
    task = TaskEnv.from_env(task_env(folder, chunk_size=16))
    first = load_engine("cpu")
    first.batch_rows = 40
    calls = 0

    def crash_on_third_call(items, original=first.correct):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("the VM went away")
        return original(items)

    first.correct = crash_on_third_call
    with pytest.raises(RuntimeError):
        run(task, engine=first)
    chunks = Path(storage_chunks(folder))
    assert len(list(chunks.glob("chunk-*.parquet"))) == 6  # two calls of 3 chunks each were written

    second = load_engine("cpu")
    second.batch_rows = 40
    counters = run(task, engine=second)
    assert (counters["chunks_skipped"], counters["chunks_done"], counters["engine_calls"]) == (6, 7, 3)
    assert read(folder.output_part(0)).num_rows == 200


def storage_chunks(folder: JobFolder) -> str:
    from offbatch import storage

    return storage.chunks_url(folder.output_url, 0).removeprefix("file://")
