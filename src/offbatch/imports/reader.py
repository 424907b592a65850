"""Reading a job's output parts for import: validated up front, streamed in bounded chunks.

The parts come from the job row's ``storage_url`` (``{storage_url}/output/part-0000i.parquet``
for every task), never from a request. Before a single row is written, every part still to
import is verified in full: its footer, its columns *and their types* against the job type's
output schema, and every data page of those columns decoded once. So a missing or mistyped
column, a truncated file or a corrupt data page fails the import cleanly, and nothing of a bad
part (nor of the parts after it) is committed. The price is reading the parts twice.

Bad rows are repaired, not fatal: strings that are not valid UTF-8 are decoded with U+FFFD
replacement, and NUL characters (which PostgreSQL cannot store) are removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from offbatch import storage
from offbatch.db.models import Job
from offbatch.errors import ImportFailed, StorageError
from offbatch.jobs import JobType


@dataclass(frozen=True)
class Part:
    index: int
    url: str
    rows: int
    row_groups: list[int]  # rows per row group
    columns: tuple[str, ...] = ()  # the output columns it has (optional ones may be absent)


@dataclass(frozen=True)
class Chunk:
    part: int
    # Rows of this part read once this chunk is imported; == part rows at the part's end.
    part_rows_done: int
    batch: pa.RecordBatch


def output_folder(job: Job) -> str:
    return f"{job.storage_url.rstrip('/')}/output"


def missing_parts(job: Job) -> list[int]:
    """Indices of the tasks whose output part does not exist yet."""
    present = {url.rsplit("/", 1)[-1] for url in storage.list_parts(output_folder(job))}
    return [
        i for i in range(job.task_count) if storage.PART_TEMPLATE.format(index=i) not in present
    ]


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def inspect_parts(job: Job, job_type: JobType, *, verify_from: int = 0) -> list[Part]:
    """Open every part's footer and verify parts ``verify_from`` on in full (see the module doc).

    ImportFailed naming the part (and the column) if one is missing, corrupt, lacks a column or
    holds a column of another type than the job type's output schema.
    """
    parts = []
    for index in range(job.task_count):
        url = storage.part_url(output_folder(job), index)
        fs, path = storage.filesystem(url)
        try:
            with fs.open(path, "rb") as f:
                parquet = pq.ParquetFile(f, page_checksum_verification=True)
                meta = parquet.metadata
                schema = meta.schema.to_arrow_schema()
                _check_schema(schema, job_type, part=f"{_name(url)} of job {job.id}")
                columns = tuple(c for c in job_type.output_schema.names if c in schema.names)
                if index >= verify_from:
                    # Decode every page now: a corrupt page found mid-import would leave the
                    # part half-imported.
                    for _batch in parquet.iter_batches(batch_size=VERIFY_BATCH_ROWS, columns=list(columns)):
                        pass
        except FileNotFoundError:
            raise ImportFailed(f"output part {_name(url)} of job {job.id} is missing") from None
        except (pa.ArrowException, OSError) as e:
            raise ImportFailed(f"output part {_name(url)} of job {job.id} is corrupt: {e}") from e
        parts.append(
            Part(index, url, meta.num_rows, [meta.row_group(i).num_rows for i in range(meta.num_row_groups)],
                 columns)
        )
    return parts


# Rows decoded at a time when verifying a part (bounded memory whatever the part's size).
VERIFY_BATCH_ROWS = 65_536


def _same_type(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Equal types, counting the string encodings as one (a writer may use large_string)."""
    if any(is_(expected) for is_ in _STRING_TYPES):
        return any(is_(actual) for is_ in _STRING_TYPES)
    return actual.equals(expected)


# string_view exists from pyarrow 16 on; the project allows 15.
_STRING_TYPES = tuple(
    check for check in (pa.types.is_string, pa.types.is_large_string, getattr(pa.types, "is_string_view", None))
    if check is not None
)


def _check_schema(schema: pa.Schema, job_type: JobType, *, part: str) -> None:
    """Every output column present (optional ones may be absent: parts of older versions), each
    of its declared type."""
    required = job_type.output_schema
    missing = [c for c in required.names if c not in schema.names and c not in job_type.optional_fields]
    if missing:
        raise ImportFailed(
            f"output part {part} lacks columns: {', '.join(missing)}",
            hint=f"job type {job_type.name} writes: {', '.join(required.names)}",
        )
    for field in required:
        if field.name not in schema.names:
            continue
        if len(schema.get_all_field_indices(field.name)) > 1:
            raise ImportFailed(f"output part {part}: column {field.name} appears more than once")
        actual = schema.field(field.name).type
        if not _same_type(actual, field.type):
            raise ImportFailed(
                f"output part {part}: column {field.name} is {actual}, expected {field.type}",
                hint=f"job type {job_type.name} writes: "
                + ", ".join(f"{f.name} ({f.type})" for f in required),
            )


def iter_chunks(
    parts: list[Part], job_type: JobType, *, start_part: int, start_row: int, chunk_size: int
) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_size`` rows from ``parts[start_part]`` row ``start_row`` on."""
    for part in parts[start_part:]:
        columns = list(part.columns or job_type.output_schema.names)
        skip = start_row if part.index == parts[start_part].index else 0
        if part.rows == 0 or skip >= part.rows:
            yield Chunk(part.index, part.rows, pa.RecordBatch.from_pylist([], schema=job_type.output_schema))
            continue
        # Skip whole row groups already imported, then the rest of the offset row by row.
        first_group, before = 0, 0
        while before + part.row_groups[first_group] <= skip:
            before += part.row_groups[first_group]
            first_group += 1
        done = before
        fs, path = storage.filesystem(part.url)
        with ExitStack() as stack:
            try:
                f = stack.enter_context(fs.open(path, "rb"))
                batches = pq.ParquetFile(f).iter_batches(
                    batch_size=chunk_size, columns=columns,
                    row_groups=list(range(first_group, len(part.row_groups))),
                )
                for batch in batches:
                    if done + batch.num_rows <= skip:
                        done += batch.num_rows
                        continue
                    if done < skip:
                        batch = batch.slice(skip - done)
                        done = skip
                    done += batch.num_rows
                    yield Chunk(part.index, done, sanitize(job_type.null_filled(batch, job_type.output_schema)))
            except (pa.ArrowException, OSError) as e:
                if isinstance(e, StorageError):
                    raise
                raise ImportFailed(f"output part {_name(part.url)} is corrupt: {e}") from e


def sanitize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Repair string columns: invalid UTF-8 decoded with replacement, NUL characters removed."""
    arrays = []
    changed = False
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                column = pa.array(
                    [None if b is None else b.decode("utf-8", "replace") for b in column.cast(pa.binary()).to_pylist()],
                    column.type,
                )
                changed = True
            if pc.any(pc.match_substring(column, "\x00")).as_py():
                column = pc.replace_substring(column, "\x00", "")
                changed = True
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema) if changed else batch

