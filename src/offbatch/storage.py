"""Object storage for job folders, over fsspec: ``file://`` locally, ``gs://`` in production.

Layout (DESIGN.md)::

    {root}/{job_type}/{job_id}/job.json
    {root}/{job_type}/{job_id}/input/part-00000.parquet
    {root}/{job_type}/{job_id}/output/part-00000.parquet

Writes of finished objects are atomic: a temporary object is written then moved into place, so a
reader sees a whole part or none. The same code serves both schemes.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, BinaryIO

import fsspec

from offbatch.errors import ConfigError, StorageError

PART_TEMPLATE = "part-{index:05d}.parquet"


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem for ``url`` and the path inside it.

    For ``gs://`` this is gcsfs (optional extra ``offbatch[gcp]``) with the credentials the Batch
    client uses: ``GOOGLE_CREDENTIALS`` when set, else Application Default Credentials, and an
    error when there are none (gcsfs alone would fall back to anonymous access and fail later on
    the first write); ``STORAGE_EMULATOR_HOST`` points it at an emulator, anonymously. Recent
    gcsfs exports, by default, a class that first probes each
    bucket's type (hierarchical namespace, zonal) over TLS gRPC, which stalls ~60 s per operation
    against an emulator. offbatch's buckets are plain ones: the core ``gcsfs.core.GCSFileSystem``
    is used directly, whatever the import order, and ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` is
    switched off (unless set) for any other user of gcsfs in this process.
    """
    if url.startswith("gs://"):
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        try:
            from gcsfs.core import GCSFileSystem
        except ModuleNotFoundError as e:
            raise StorageError(
                "gs:// storage needs gcsfs", hint="install it with: pip install 'offbatch[gcp]'"
            ) from e
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            fs = GCSFileSystem(endpoint_url=emulator, token="anon")
        else:
            fs = GCSFileSystem(token=_gcs_credentials())
        return fs, url.removeprefix("gs://")
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ValueError, ImportError) as e:
        raise StorageError(f"unsupported storage URL {url!r}: {e}") from e
    return fs, path


def _gcs_credentials() -> Any:
    """The Google credentials for gs:// (one object per value, so gcsfs reuses its instance)."""
    from offbatch.settings import load_settings

    secret = load_settings().google_credentials
    return _credentials_for(secret.get_secret_value() if secret else None)


@functools.lru_cache(maxsize=4)
def _credentials_for(encoded: str | None) -> Any:
    from offbatch.backends.google_batch.credentials import load_credentials
    from offbatch.settings import Settings

    try:
        return load_credentials(Settings(google_credentials=encoded))
    except ConfigError as e:
        raise StorageError(f"gs:// storage: {e}", hint=e.hint) from None
def check_scheme(url: str) -> None:
    """Raise StorageError unless this process has the filesystem for ``url``'s scheme.

    Connects to nothing: it only checks that the scheme is known and its fsspec implementation
    (gcsfs for ``gs://``, s3fs for ``s3://``...) is installed, so a launch can refuse before
    it extracts anything.
    """
    protocol = fsspec.core.split_protocol(url)[0] or "file"
    if protocol in ("gs", "gcs"):
        if importlib.util.find_spec("gcsfs") is None:
            raise StorageError("gs:// storage needs gcsfs", hint="install it with: pip install 'offbatch[gcp]'")
        return
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        raise StorageError(f"{protocol}:// storage needs a package that is not installed: {e}") from None
    except ValueError:
        raise StorageError(f"unsupported storage URL {url!r}: unknown scheme {protocol!r}") from None


@dataclass(frozen=True)
class JobFolder:
    """One job's folder in storage; paths are URLs so workers on other machines can use them."""

    root: str
    job_type: str
    job_id: str

    @property
    def url(self) -> str:
        return f"{self.root.rstrip('/')}/{self.job_type}/{self.job_id}"

    @property
    def input_url(self) -> str:
        return f"{self.url}/input"

    @property
    def output_url(self) -> str:
        return f"{self.url}/output"

    @property
    def job_json_url(self) -> str:
        return f"{self.url}/job.json"

    def input_part(self, index: int) -> str:
        return part_url(self.input_url, index)

    def output_part(self, index: int) -> str:
        return part_url(self.output_url, index)


def part_url(folder_url: str, index: int) -> str:
    return f"{folder_url.rstrip('/')}/{PART_TEMPLATE.format(index=index)}"


def chunks_url(output_url: str, index: int) -> str:
    """Where task ``index`` keeps its finished chunks until its output part is written.

    A folder of the task's own directly under ``output/``, not under a folder shared by the
    tasks: a task that removes its chunks (and with them a shared parent it saw empty) would
    otherwise race another task creating its chunk folder in that parent (ENOENT).
    """
    return f"{output_url.rstrip('/')}/_chunks-part-{index:05d}"


def failure_url(output_url: str, index: int) -> str:
    """Where task ``index`` writes the one line saying why it failed on bad input (read by status)."""
    return f"{output_url.rstrip('/')}/_failed/part-{index:05d}.txt"


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    try:
        # Another process (a task, the service) may have written it since this process looked.
        fs.invalidate_cache(path)
        return fs.exists(path)
    except OSError as e:
        raise StorageError(f"cannot reach {url}: {e}") from e


@contextmanager
def open_atomic(url: str) -> Iterator[BinaryIO]:
    """A writable file whose content appears at ``url`` only if the block completes.

    On GCS an object becomes visible only when its upload is finalized, so the file is written
    in place with ``autocommit=False`` and finalized when the block completes; on error the
    upload session is abandoned unfinalized (never visible; GCS expires it after a week). A
    tmp + move would cost a server-side copy of the whole part, since gcsfs's ``mv`` is
    copy + delete wherever the moveTo API is missing. Elsewhere (local disks) a temporary file
    beside the target is renamed into place, and removed on error.
    """
    fs, path = filesystem(url)
    if _is_gcs(fs):
        with _open_gcs_atomic(fs, path, url) as f:
            yield f
        return
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.tmp-{uuid.uuid4().hex}-{name}"
    try:
        fs.makedirs(parent, exist_ok=True)
        with fs.open(tmp, "wb") as f:
            yield f
        fs.mv(tmp, path)
    except OSError as e:
        _discard(fs, tmp)
        raise StorageError(f"cannot write {url}: {e}") from e
    except BaseException:
        _discard(fs, tmp)
        raise


@contextmanager
def staged_path(url: str) -> Iterator[str]:
    """A local file path to write; its content appears at ``url`` only if the block completes.

    For writers that need a real path rather than a file object (DuckDB's ``COPY ... TO``).
    For a local ``url`` the path is a temporary file beside the target, renamed into place when
    the block completes (no copy); for any other storage (``gs://``) it lies in a local
    temporary folder and is uploaded through ``open_atomic`` when the block completes. Either
    way nothing is left behind, at ``url`` or locally, if the block raises.
    """
    fs, path = filesystem(url)
    parent, _, name = path.rpartition("/")
    if not _is_local(fs):
        with tempfile.TemporaryDirectory(prefix="offbatch-stage-") as folder:
            local = os.path.join(folder, name)
            yield local
            try:
                source = open(local, "rb")  # noqa: SIM115 - closed below, after the upload
            except OSError as e:
                raise StorageError(f"cannot write {url}: {e}") from e
            with source, open_atomic(url) as target:
                shutil.copyfileobj(source, target, _UPLOAD_BLOCK)
        return
    tmp = os.path.join(parent, f".tmp-{uuid.uuid4().hex}-{name}")
    try:
        os.makedirs(parent, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        _discard_local(tmp)
        raise StorageError(f"cannot write {url}: {e}") from e
    except BaseException:
        _discard_local(tmp)
        raise


_UPLOAD_BLOCK = 8 * 1024 * 1024


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _discard_local(path: str) -> None:
    with suppress(OSError):
        os.remove(path)


def _is_gcs(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "gs" in protocol or "gcs" in protocol


@contextmanager
def _open_gcs_atomic(fs: fsspec.AbstractFileSystem, path: str, url: str) -> Iterator[BinaryIO]:
    try:
        f = fs.open(path, "wb", autocommit=False)
    except OSError as e:
        raise StorageError(f"cannot write {url}: {e}") from e
    try:
        yield f
        f.close()  # uploads all but the final chunk; nothing is visible yet
        f.commit()  # finalizes the upload: the whole object appears at once
    except BaseException as e:
        # Abandon the unfinalized upload without sending its buffer (closing would upload it).
        f.closed = True
        if isinstance(e, OSError):
            raise StorageError(f"cannot write {url}: {e}") from e
        raise
    finally:
        fs.invalidate_cache(path)


def _discard(fs: fsspec.AbstractFileSystem, path: str) -> None:
    try:
        if fs.exists(path):
            fs.rm(path)
    except OSError:
        pass


def write_bytes_atomic(url: str, data: bytes) -> None:
    """Write ``data`` to ``url`` so that readers see either nothing or the whole object."""
    with open_atomic(url) as f:
        f.write(data)


def read_bytes(url: str) -> bytes:
    fs, path = filesystem(url)
    try:
        with fs.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise StorageError(f"missing object: {url}") from None
    except OSError as e:
        raise StorageError(f"cannot read {url}: {e}") from e


def write_json(url: str, payload: dict[str, Any]) -> None:
    write_bytes_atomic(url, json.dumps(payload, indent=2, sort_keys=True).encode())


def read_json(url: str) -> dict[str, Any]:
    try:
        return json.loads(read_bytes(url))
    except json.JSONDecodeError as e:
        raise StorageError(f"corrupt JSON in {url}: {e}") from e


def list_parts(folder_url: str) -> list[str]:
    """URLs of the finished ``part-*.parquet`` objects under ``folder_url``, sorted."""
    return list_parquet(folder_url, prefix="part-")


def list_parquet(folder_url: str, *, prefix: str) -> list[str]:
    """URLs of the ``{prefix}*.parquet`` objects directly under ``folder_url``, sorted.

    Temporary objects of atomic writes (``.tmp-*``) never match: what is listed is finished.
    """
    fs, path = filesystem(folder_url)
    try:
        fs.invalidate_cache(path)  # written by other processes: never trust a cached listing
        names = fs.ls(path, detail=False) if fs.exists(path) else []
    except OSError as e:
        raise StorageError(f"cannot list {folder_url}: {e}") from e
    out = []
    for name in names:
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if base.startswith(prefix) and base.endswith(".parquet"):
            out.append(f"{folder_url.rstrip('/')}/{base}")
    return sorted(out)


def remove(url: str, *, recursive: bool = False) -> None:
    fs, path = filesystem(url)
    try:
        if fs.exists(path):
            fs.rm(path, recursive=recursive)
    except OSError as e:
        raise StorageError(f"cannot remove {url}: {e}") from e


