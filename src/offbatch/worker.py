"""The task worker: the one entry point a task runs (``offbatch run-task``), locally or in a container.

Before any row, the task checks its environment (the image's lock, then the engine's checks:
GPU, driver, model files; ``preflight.py``). Task *i* then reads ``input/part-i.parquet`` in
chunks, hands the engine as many chunks per call as it batches well (``Engine.batch_rows``: one
for the CPU engine, thousands of rows for vLLM), and records each finished chunk under
``output/_chunks-part-i/`` so a retried attempt resumes where the last one stopped. When every
chunk is done it writes ``output/part-i.parquet`` atomically (the part exists only if the shard
finished), removes the chunks, and notifies the import endpoint.

Exit codes (``contract.py``): 0 done; ``EXIT_BAD_INPUT`` for a wrong environment or an
unreadable input part (retrying cannot help): its one-line cause goes to the log and to
``output/_failed/part-i.txt``, where ``offbatch status`` reads it; anything else (a crash) is
retried by the backend.

Contract variables come from the ``env`` mapping given to ``main``; settings (model, revision,
image lock) from the process's environment, like every other offbatch command.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from offbatch import contract, preflight, storage
from offbatch.engines import Engine, load_engine
from offbatch.engines.base import Check
from offbatch.errors import OffbatchError, StorageError
from offbatch.jobs import get_job_type
from offbatch.parquet import write_parquet_atomic
from offbatch.redaction import configure_logging
from offbatch.settings import Settings, load_settings

log = logging.getLogger("offbatch.worker")

NOTIFY_ATTEMPTS = 5
NOTIFY_TIMEOUT_S = 30.0


class BadInput(Exception):
    """The task cannot succeed with this input or environment."""


@dataclass(frozen=True)
class TaskEnv:
    job_id: str
    job_type: str
    input_url: str
    output_url: str
    engine: str
    chunk_size: int
    index: int
    count: int
    webhook_url: str | None
    token: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TaskEnv:
        required = [contract.JOB_ID, contract.JOB_TYPE, contract.INPUT_URL, contract.OUTPUT_URL,
                    contract.ENGINE, contract.TASK_INDEX, contract.TASK_COUNT]
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise BadInput(f"missing worker environment: {', '.join(missing)}")
        if env.get(contract.CONTRACT, contract.CONTRACT_VERSION) != contract.CONTRACT_VERSION:
            raise BadInput(f"worker contract {env.get(contract.CONTRACT)!r} is not {contract.CONTRACT_VERSION!r}")
        try:
            index, count = int(env[contract.TASK_INDEX]), int(env[contract.TASK_COUNT])
            chunk_size = int(env.get(contract.CHUNK_SIZE, "256"))
        except ValueError as e:
            raise BadInput(f"invalid task index/count/chunk size: {e}") from None
        if not 0 <= index < count or chunk_size < 1:
            raise BadInput(f"task index {index} out of range for {count} tasks")
        webhook = env.get(contract.WEBHOOK_URL) or None
        token = env.get(contract.IMPORT_TOKEN) or None
        if webhook and not token:
            raise BadInput(f"{contract.WEBHOOK_URL} is set but {contract.IMPORT_TOKEN} is not")
        return cls(
            job_id=env[contract.JOB_ID], job_type=env[contract.JOB_TYPE], input_url=env[contract.INPUT_URL],
            output_url=env[contract.OUTPUT_URL], engine=env[contract.ENGINE], chunk_size=chunk_size,
            index=index, count=count, webhook_url=webhook, token=token,
        )

    @property
    def input_part(self) -> str:
        return storage.part_url(self.input_url, self.index)

    @property
    def output_part(self) -> str:
        return storage.part_url(self.output_url, self.index)

    @property
    def chunks_url(self) -> str:
        return storage.chunks_url(self.output_url, self.index)

    def chunk_url(self, n: int) -> str:
        return f"{self.chunks_url}/chunk-{n:06d}.parquet"


def run(task: TaskEnv, *, engine: Engine | None = None) -> dict[str, float | int]:
    """Process the task's shard; return counters. Idempotent: a finished shard is skipped.

    ``engine`` (default: ``task.engine`` built without settings) is closed at the end.
    """
    job_type = get_job_type(task.job_type)
    if storage.exists(task.output_part):
        log.info("output part %s already exists: shard done", task.output_part)
        if engine is not None:
            engine.close()
        return {"rows": 0, "chunks_done": 0, "chunks_skipped": 0, "engine_seconds": 0.0}
    fs, path = storage.filesystem(task.input_part)
    try:
        source = pq.ParquetFile(fs.open(path, "rb"))
        names = set(source.schema_arrow.names)
    except FileNotFoundError:
        raise BadInput(f"input part missing: {task.input_part}") from None
    except (pa.ArrowInvalid, OSError) as e:
        raise BadInput(f"input part {task.input_part} is not readable Parquet: {e}") from e
    missing = [c for c in job_type.input_schema.names if c not in names and c not in job_type.optional_fields]
    if missing:
        raise BadInput(f"input part {task.input_part} lacks columns: {', '.join(missing)}")

    engine = engine or load_engine(task.engine)
    counters: dict[str, float | int] = {"rows": 0, "chunks_done": 0, "chunks_skipped": 0, "engine_seconds": 0.0,
                                        "engine_calls": 0}
    chunk_urls = []
    # Chunks an earlier attempt finished, listed once (not one existence check per chunk).
    finished = set(storage.list_parquet(task.chunks_url, prefix="chunk-"))
    # Unfinished chunks waiting for one engine call: (number, url, rows). An engine that batches
    # (vLLM) gets thousands of rows per call, yet each chunk is still written on its own, so a
    # retried attempt redoes at most one call's chunks.
    window_rows = max(engine.batch_rows, task.chunk_size)
    pending: list[tuple[int, str, pa.RecordBatch]] = []

    def flush() -> None:
        if not pending:
            return
        started = time.perf_counter()
        batches = [b for _, _, b in pending]
        combined = batches[0] if len(batches) == 1 else pa.concat_batches(batches)
        out = job_type.process(combined, engine)
        seconds = time.perf_counter() - started
        counters["engine_seconds"] += seconds
        counters["engine_calls"] += 1
        offset = 0
        for _, url, batch in pending:
            write_parquet_atomic(url, [out.slice(offset, batch.num_rows)], job_type.output_schema)
            offset += batch.num_rows
            counters["chunks_done"] += 1
        counters["rows"] += out.num_rows
        first, last = pending[0][0], pending[-1][0]
        log.info("chunk%s %s: %d rows in %.2fs", "s" if last > first else "",
                 f"{first}-{last}" if last > first else first, out.num_rows, seconds)
        pending.clear()

    try:
        batches = source.iter_batches(batch_size=task.chunk_size,
                                      columns=[c for c in job_type.input_schema.names if c in names])
        for n, batch in enumerate(batches):
            url = task.chunk_url(n)
            chunk_urls.append(url)
            if url in finished:  # done by an earlier attempt
                counters["chunks_skipped"] += 1
                continue
            try:
                batch = job_type.null_filled(batch, job_type.input_schema).cast(job_type.input_schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise BadInput(f"chunk {n} of {task.input_part} has invalid rows: {e}") from e
            pending.append((n, url, batch))
            if sum(b.num_rows for _, _, b in pending) >= window_rows:
                flush()
        flush()
    except pa.ArrowInvalid as e:
        raise BadInput(f"input part {task.input_part} is corrupt: {e}") from e
    finally:
        engine.close()

    def chunks():
        for url in chunk_urls:
            cfs, cpath = storage.filesystem(url)
            with cfs.open(cpath, "rb") as f:
                yield from pq.ParquetFile(f).iter_batches()

    rows = write_parquet_atomic(task.output_part, chunks(), job_type.output_schema)
    storage.remove(task.chunks_url, recursive=True)
    log.info("wrote %s (%d rows)", task.output_part, rows)
    counters["rows_total"] = rows
    return counters


def environment_checks(engine: Engine, *, settings: Settings) -> list[Check]:
    """What a task checks before any row: the image's lock (when the image names it), then the engine's."""
    checks: list[Check] = []
    if settings.image_lock is not None:
        lock = settings.image_lock
        checks.append(("image lock", lambda: preflight.check_lock(lock)))
    return checks + engine.checks()


def run_checks(checks: list[Check], *, label: str, report_failure: bool = False) -> None:
    """Run ``checks`` in order, logging each; the first failure propagates (``main`` logs its one line).

    ``report_failure`` also logs the failed step as ``<label> N <name>: FAILED: <cause>`` (smoke jobs).
    """
    for number, (name, check) in enumerate(checks, 1):
        try:
            detail = check()
        except (OffbatchError, BadInput) as e:
            if report_failure:
                log.error("%s %d %s: FAILED: %s", label, number, name, _one_line(str(e)))
            raise
        log.info("%s %d %s: ok: %s", label, number, name, _one_line(detail))


def smoke(task: TaskEnv, *, engine: Engine, settings: Settings) -> dict[str, float | int]:
    """The operator's smoke job (``offbatch smoke``): each check, the model load, one generation.

    Every step logs ``smoke step N <name>: ok|FAILED: ...``; the command reads these lines back.
    """
    checks = environment_checks(engine, settings=settings)
    if settings.image_lock is None:
        checks.insert(0, ("image lock", lambda: "not checked: OFFBATCH_IMAGE_LOCK is not set"))
    checks.append(("model load", engine.load))
    counters: dict[str, float | int] = {}

    def generation() -> str:
        counters.update(run(task, engine=engine))
        fs, path = storage.filesystem(task.output_part)
        with fs.open(path, "rb") as f:
            table = pq.ParquetFile(f).read()  # not read_table: no pyarrow.dataset, no filesystem layer
        if table.num_rows == 0:
            return "the shard has no rows"
        row = table.slice(0, 1).to_pylist()[0]
        return (f"{table.num_rows} rows by {row['engine_version']}; first: {row['original'][:60]!r} -> "
                f"{(row['correction'] or '')[:60]!r} (truncated {row['truncated']})")

    checks.append(("generation", generation))
    run_checks(checks, label="smoke step", report_failure=True)
    return counters


def record_failure(task: TaskEnv, line: str) -> None:
    """Leave the one-line cause where ``offbatch status`` finds it; never fail the failure."""
    try:
        storage.write_bytes_atomic(storage.failure_url(task.output_url, task.index), line.encode())
    except Exception as e:  # noqa: BLE001 - storage may be the very thing that is broken
        log.warning("could not record the failure in storage: %s", e)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def notify(task: TaskEnv, *, sleep=time.sleep) -> bool:
    """POST the import notification; retry transient failures with backoff. True if accepted.

    A refusal (4xx) is not retried: it will not change. A notification that never arrives is
    not fatal: the service's reconcile step imports succeeded jobs without one.
    """
    import httpx

    assert task.webhook_url and task.token
    payload = {"job_id": task.job_id, "job_type": task.job_type, "task_index": task.index}
    headers = {"Authorization": f"Bearer {task.token}"}
    for attempt in range(1, NOTIFY_ATTEMPTS + 1):
        try:
            response = httpx.post(task.webhook_url, json=payload, headers=headers, timeout=NOTIFY_TIMEOUT_S)
        except httpx.HTTPError as e:
            problem = f"{type(e).__name__}"
        else:
            if response.status_code < 300:
                log.info("import endpoint accepted the notification (%d)", response.status_code)
                return True
            if response.status_code < 500 and response.status_code != 429:
                log.error("import endpoint refused the notification: HTTP %d", response.status_code)
                return False
            problem = f"HTTP {response.status_code}"
        delay = min(2 ** attempt, 60)
        log.warning("notification attempt %d/%d failed (%s); retrying in %ds", attempt, NOTIFY_ATTEMPTS, problem, delay)
        if attempt < NOTIFY_ATTEMPTS:
            sleep(delay)
    log.error("import endpoint unreachable after %d attempts; the reconcile step will import", NOTIFY_ATTEMPTS)
    return False


def main(env: Mapping[str, str] | None = None) -> int:
    configure_logging(fmt="%(asctime)s %(levelname)s %(message)s")
    env = os.environ if env is None else env
    task: TaskEnv | None = None
    try:
        task = TaskEnv.from_env(env)
        log.info("job %s task %d/%d: %s -> %s (engine %s)", task.job_id, task.index, task.count,
                 task.input_part, task.output_part, task.engine)
        settings = load_settings()
        engine = load_engine(task.engine, settings=settings)
        if env.get(contract.SMOKE) == "1":
            counters = smoke(task, engine=engine, settings=settings)
        else:
            run_checks(environment_checks(engine, settings=settings), label="preflight")
            counters = run(task, engine=engine)
        log.info("done: %s", counters)
    except BadInput as e:
        return _fail(task, f"bad input: {_one_line(str(e))}")
    except StorageError as e:
        log.error("storage error: %s", e)
        return 1
    except OffbatchError as e:
        return _fail(task, _one_line(str(e)))
    if task.webhook_url:
        notify(task)
    return contract.EXIT_OK


def _fail(task: TaskEnv | None, line: str) -> int:
    log.error("%s", line)
    if task is not None:
        record_failure(task, line)
    return contract.EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
