"""Job-scoped import tokens.

A job receives ``<job_id>.<expires>.<mac>`` where ``mac`` is HMAC-SHA256 over
``<job_id>.<expires>`` under the service's ``BATCH_JOB_KEY``. The token grants one thing: importing
that job, until it expires. A leaked token cannot import another job, and the key never leaves
the service. Comparison is constant-time; tokens and the key are never logged or printed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from offbatch.errors import AuthError, ForbiddenError

# After the job's worst-case end, the token stays valid this long for late or retried webhooks.
GRACE_SECONDS = 24 * 3600

# What a well-formed token's tail looks like: ASCII digits only (``str.isdigit`` also accepts
# '²' and other Unicode digits, which ``int()`` refuses) and a lowercase hex SHA-256.
_EXPIRES = re.compile(r"[0-9]{1,12}")
_MAC = re.compile(r"[0-9a-f]{64}")


def _mac(key: bytes, job_id: str, expires: int) -> str:
    return hmac.new(key, f"{job_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def issue_token(key: bytes, *, job_id: str, expires_at: float) -> str:
    expires = int(expires_at)
    return f"{job_id}.{expires}.{_mac(key, job_id, expires)}"


def token_lifetime(*, max_run_duration: int, max_retry_count: int) -> int:
    """Seconds a job's token lives: every attempt of the job running to its limit, plus grace."""
    return max_run_duration * (max_retry_count + 1) + GRACE_SECONDS


def verify_token(key: bytes, token: str, *, job_id: str, now: float | None = None) -> None:
    """Raise unless ``token`` was issued for ``job_id`` under ``key`` and has not expired.

    AuthError (401) for a malformed token, ForbiddenError (403) for a wrong, foreign or expired
    one. Messages never echo the token.
    """
    parts = token.rsplit(".", 2)
    if len(parts) != 3 or not _EXPIRES.fullmatch(parts[1]) or not _MAC.fullmatch(parts[2]):
        raise AuthError("malformed import token")
    token_job, expires_s, mac = parts
    expected = _mac(key, token_job, int(expires_s))
    # Constant-time on the MAC; the job id and expiry are covered by it.
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise ForbiddenError("invalid import token")
    if not hmac.compare_digest(token_job.encode(), job_id.encode()):
        raise ForbiddenError("the import token does not grant this job")
    if (now if now is not None else time.time()) > int(expires_s):
        raise ForbiddenError("the import token has expired")
