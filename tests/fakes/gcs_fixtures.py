"""gcp-storage-emulator on 127.0.0.1 as pytest fixtures: ``gs://`` without Google."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from gcp_storage_emulator import server as emulator_server

BUCKET = "offbatch-test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    port = free_port()
    server = emulator_server.create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def gs(emulator: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh ``gs://`` root per test, on the emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    return f"gs://{BUCKET}/{request.node.name.replace('[', '-').rstrip(']')}"
