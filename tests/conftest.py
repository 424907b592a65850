"""Shared fixtures: an isolated OFFBATCH_HOME and settings per test, polling with deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from offbatch.settings import Settings, load_settings

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "offbatch" / "data" / "off-food-sample.parquet"
T = TypeVar("T")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for name in ("OFFBATCH_DATABASE_URL", "OFFBATCH_STORAGE_URL", "OFFBATCH_BACKEND", "OFFBATCH_API_URL",
                 "OFFBATCH_BATCH_JOB_KEY", "BATCH_JOB_KEY", "OFFBATCH_DATASET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OFFBATCH_HOME", str(home))
    return home


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings()


def wait_for(predicate: Callable[[], T], *, timeout: float = 60.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
