"""Google credentials: ``GOOGLE_CREDENTIALS`` (base64 service-account JSON) or ADC.

One source for every Google client offbatch builds: Batch, Cloud Logging and gs:// storage
(``storage.filesystem``), so the service account that creates jobs also uploads their input.
The service-account key is decoded in memory into a credentials object; it is never written to
a file, a log or an error message (messages say what is wrong, never what the value was). The
base64 may be wrapped over lines (GNU ``base64`` wraps at 76 columns). Without
``GOOGLE_CREDENTIALS``, Application Default Credentials are used
(``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default login``, or the metadata
server of a VM or Cloud Run).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from offbatch.errors import ConfigError

if TYPE_CHECKING:
    from offbatch.settings import Settings

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def service_account_info(encoded: str) -> dict[str, Any]:
    """The service-account JSON inside ``GOOGLE_CREDENTIALS`` (base64, or the JSON itself)."""
    text = encoded.strip()
    if not text.startswith("{"):
        try:
            text = base64.b64decode("".join(text.split()), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError("GOOGLE_CREDENTIALS is not valid base64 (expected a base64 service-account JSON)") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError("GOOGLE_CREDENTIALS does not decode to JSON (expected a service-account key)") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError('GOOGLE_CREDENTIALS is not a service-account key (no "type": "service_account")')
    return info


def load_credentials(settings: Settings) -> Any:
    """A ``google.auth`` credentials object for the Batch and Logging clients."""
    import google.auth
    from google.auth import exceptions as auth_exc

    if settings.google_credentials is not None:
        from google.oauth2 import service_account

        info = service_account_info(settings.google_credentials.get_secret_value())
        try:
            return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        except (ValueError, KeyError) as e:
            # The message of these errors names missing fields, never the key material.
            raise ConfigError(f"GOOGLE_CREDENTIALS is not a usable service-account key ({type(e).__name__})") from None
    try:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
    except auth_exc.DefaultCredentialsError as e:
        raise ConfigError(
            "no Google credentials found",
            hint="set GOOGLE_CREDENTIALS (base64 service-account JSON) or run: gcloud auth application-default login",
        ) from e
    return credentials
