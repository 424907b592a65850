"""gs:// storage uses the same Google credentials as Batch: GOOGLE_CREDENTIALS, else ADC, never anonymous."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from offbatch import storage
from offbatch.errors import StorageError

pytest.importorskip("gcsfs")
pytest.importorskip("cryptography")


@pytest.fixture(autouse=True)
def no_google_environment(monkeypatch, tmp_path):
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_CREDENTIALS", "OFFBATCH_GOOGLE_CREDENTIALS",
                 "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud application-default credentials
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # not on a Google VM: no metadata server
    monkeypatch.chdir(tmp_path)  # no .env
    storage._credentials_for.cache_clear()
    yield
    storage._credentials_for.cache_clear()


def test_gs_storage_authenticates_with_google_credentials_even_wrapped(monkeypatch) -> None:
    from tests.backends.google_batch.test_credentials import _key_json

    info = _key_json()
    # GNU base64 output: wrapped at 76 columns, as `base64 key.json` prints it.
    wrapped = "\n".join(textwrap.wrap(base64.b64encode(json.dumps(info).encode()).decode(), 76)) + "\n"
    monkeypatch.setenv("GOOGLE_CREDENTIALS", wrapped)
    fs, path = storage.filesystem("gs://bucket/offbatch/job")
    assert path == "bucket/offbatch/job"
    assert fs.credentials.credentials.service_account_email == info["client_email"]


def test_gs_storage_without_any_credentials_is_an_error_not_anonymous_access() -> None:
    with pytest.raises(StorageError, match="no Google credentials found") as error:
        storage.filesystem("gs://bucket/offbatch/job")
    assert "GOOGLE_CREDENTIALS" in (error.value.hint or "")
