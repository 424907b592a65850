"""Finding a model revision in the Hugging Face cache, offline, without importing anything heavy.

The cache layout is huggingface_hub's (``snapshot_download`` leaves it so)::

    <cache>/models--<org>--<name>/snapshots/<commit sha>/config.json ...
    <cache>/models--<org>--<name>/refs/<branch or tag>      (a file holding a commit sha)

``snapshot_download(revision=<sha>)`` writes no ``refs/main``: offline, a branch name resolves
only through its ``refs`` file, while a full commit sha resolves by its snapshot folder alone.
The worker image bakes one commit and names it (``OFFBATCH_VLLM_REVISION``); this module finds
that folder, or says in one line why it cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from offbatch.errors import EngineError

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


class ModelNotFound(EngineError):
    """The model revision the task must load is not on this machine (and may not be downloaded)."""

    exit_code = 3


@dataclass(frozen=True)
class Snapshot:
    path: Path
    # The commit the folder holds; None for a plain local folder (not a cache snapshot).
    commit: str | None


def repo_folder(cache_dir: Path, repo_id: str) -> Path:
    return cache_dir / ("models--" + repo_id.replace("/", "--"))


def find_snapshot(cache_dir: Path, repo_id: str, revision: str) -> Snapshot | None:
    """The cached snapshot of ``repo_id`` at ``revision`` (a commit sha, or a ref with a refs file)."""
    folder = repo_folder(cache_dir, repo_id)
    commit = revision if COMMIT_SHA.match(revision) else None
    if commit is None:
        ref = folder / "refs" / revision
        if not ref.is_file():
            return None
        commit = ref.read_text().strip()
    snapshot = folder / "snapshots" / commit
    if not (snapshot / "config.json").is_file():
        return None
    return Snapshot(path=snapshot, commit=commit)


def resolve(model: str, revision: str, *, cache_dir: Path, offline: bool) -> Snapshot:
    """The folder vLLM loads for ``model@revision``; raises ModelNotFound with one line.

    ``model`` may be a local folder (used as is). Otherwise the cache is looked up first; only
    when that misses and ``offline`` is False is the Hub asked (huggingface_hub, imported then).
    """
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelNotFound(f"model folder {local} has no config.json")
        return Snapshot(path=local, commit=revision if COMMIT_SHA.match(revision) else None)
    found = find_snapshot(cache_dir, model, revision)
    if found is not None:
        return found
    if offline:
        hint = "" if COMMIT_SHA.match(revision) else (
            f"; offline a branch name resolves only through refs/{revision}: "
            "set OFFBATCH_VLLM_REVISION to the baked commit sha"
        )
        raise ModelNotFound(
            f"model {model} revision {revision} is not in the Hugging Face cache {cache_dir} "
            f"and HF_HUB_OFFLINE is set{hint}"
        )
    try:
        from huggingface_hub import snapshot_download
    except ModuleNotFoundError:
        raise ModelNotFound(
            f"model {model} revision {revision} is not in the Hugging Face cache {cache_dir} "
            "and huggingface_hub is not installed to download it"
        ) from None
    try:
        path = Path(snapshot_download(model, revision=revision, cache_dir=cache_dir))
    except Exception as e:  # noqa: BLE001 - any Hub failure ends the same way: one line, exit 3
        raise ModelNotFound(
            f"model {model} revision {revision} is not in the Hugging Face cache {cache_dir} "
            f"and could not be downloaded: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    return Snapshot(path=path, commit=path.name)
