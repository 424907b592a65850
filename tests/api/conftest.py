"""API fixtures: the app on the test database (background importer off), a client, tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from offbatch.api.app import create_app
from offbatch.auth import issue_token
from offbatch.db.session import Database
from offbatch.settings import Settings


@pytest.fixture
def app(settings: Settings, db: Database):
    return create_app(settings, db, background=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def token_for(settings: Settings, job_id: str, *, expires_in: float = 3600) -> str:
    return issue_token(settings.job_key(), job_id=job_id, expires_at=time.time() + expires_in)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
