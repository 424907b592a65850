"""Import tokens: every malformed token is an AuthError (401), never another exception."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from offbatch.auth import issue_token, verify_token
from offbatch.errors import AuthError, ForbiddenError

KEY = b"test-batch-job-key-0123456789abcdef"
JOB = "ingredients-spellcheck-20260101-000000"
# What Starlette gives us: header bytes decoded as latin-1, so any of these 256 characters.
LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)


def test_a_superscript_digit_in_the_expiry_is_a_401() -> None:
    mac = "0" * 64
    for expires in ("²", "1²", "١٢٣", "１２"):  # isdigit() is True for each, int() fails on some
        with pytest.raises(AuthError) as e:
            verify_token(KEY, f"{JOB}.{expires}.{mac}", job_id=JOB)
        assert not isinstance(e.value, ForbiddenError)


@hypothesis_settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(token=st.text(LATIN1, max_size=200))
def test_any_latin1_string_is_refused_with_an_auth_error(token: str) -> None:
    with pytest.raises(AuthError):  # ForbiddenError is an AuthError; anything else fails the test
        verify_token(KEY, token, job_id=JOB)


@hypothesis_settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(job=st.text(LATIN1, max_size=80), expires=st.text(LATIN1, max_size=15), mac=st.text(LATIN1, max_size=70))
def test_any_three_latin1_fields_are_refused_with_an_auth_error(job: str, expires: str, mac: str) -> None:
    with pytest.raises(AuthError):
        verify_token(KEY, f"{job}.{expires}.{mac}", job_id=JOB)


def test_a_valid_token_passes_and_a_tampered_one_is_forbidden() -> None:
    token = issue_token(KEY, job_id=JOB, expires_at=time.time() + 60)
    verify_token(KEY, token, job_id=JOB)
    with pytest.raises(ForbiddenError):
        verify_token(KEY, token[:-1] + ("0" if token[-1] != "0" else "1"), job_id=JOB)
