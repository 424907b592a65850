"""GOOGLE_CREDENTIALS becomes a credentials object in memory; errors never echo the value."""

from __future__ import annotations

import base64
import json

import pytest

from offbatch.backends.google_batch.credentials import load_credentials, service_account_info
from offbatch.errors import ConfigError
from offbatch.settings import Settings


def _key_json() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "offbatch-test",
        "private_key_id": "0123",
        "private_key": pem,
        "client_email": "offbatch@offbatch-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def test_base64_service_account_becomes_credentials_without_a_file(tmp_path, monkeypatch) -> None:
    pytest.importorskip("cryptography")
    monkeypatch.chdir(tmp_path)
    info = _key_json()
    encoded = base64.b64encode(json.dumps(info).encode()).decode()
    credentials = load_credentials(Settings(home=tmp_path / "home", google_credentials=encoded))
    assert credentials.service_account_email == info["client_email"]
    assert list(tmp_path.rglob("*")) == []  # nothing written anywhere


def test_raw_json_is_accepted_too() -> None:
    assert service_account_info('{"type": "service_account", "x": 1}')["x"] == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64 at all !!", "not valid base64"),
        (base64.b64encode(b"s3cr3t-not-json").decode(), "does not decode to JSON"),
        (base64.b64encode(b'{"type": "authorized_user", "refresh_token": "s3cr3t"}').decode(), "not a service-account"),
    ],
)
def test_bad_credentials_are_a_config_error_that_does_not_echo_them(value, message) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        service_account_info(value)
    assert value not in str(error.value) and "s3cr3t" not in str(error.value)


def test_base64_wrapped_over_lines_is_accepted() -> None:
    # `base64 key.json` (GNU coreutils) wraps its output at 76 columns.
    encoded = base64.encodebytes(json.dumps({"type": "service_account", "x": "y" * 200}).encode()).decode()
    assert "\n" in encoded.strip()
    assert service_account_info(encoded)["x"] == "y" * 200
