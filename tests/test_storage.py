"""Atomic writes to local job folders (``file://``); the same contracts on GCS are in test_storage_gcs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from offbatch import storage
from offbatch.errors import StorageError


def test_a_staged_path_appears_at_the_url_only_when_the_block_completes(tmp_path):
    url = (tmp_path / "input" / "part-00000.parquet").as_uri()
    target = tmp_path / "input" / "part-00000.parquet"
    with storage.staged_path(url) as path:
        Path(path).write_bytes(b"whole part")
        assert Path(path).parent == target.parent  # beside the target: a rename, never a copy
        assert not target.exists()
    assert target.read_bytes() == b"whole part"
    assert [p.name for p in target.parent.iterdir()] == ["part-00000.parquet"]


def test_a_staged_path_whose_writer_fails_leaves_nothing(tmp_path):
    url = (tmp_path / "part-00001.parquet").as_uri()
    with pytest.raises(RuntimeError), storage.staged_path(url) as path:
        Path(path).write_bytes(b"half a part")
        raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []


def test_a_staged_path_the_writer_never_wrote_is_a_storage_error(tmp_path):
    url = (tmp_path / "part-00002.parquet").as_uri()
    with pytest.raises(StorageError, match="cannot write"), storage.staged_path(url):
        pass
    assert list(tmp_path.iterdir()) == []
