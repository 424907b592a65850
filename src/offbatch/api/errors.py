"""The API's one error model: every error answer is ``ErrorOut``, and the OpenAPI document says so.

Our errors (``OffbatchError``) map to their ``http_status``; request validation errors (422) use
the same shape, with the problems listed in ``errors`` (never echoing the input, which may hold
a token); Starlette's own 404/405 already answer ``{"detail": "<text>"}``. Routes declare the
statuses they return with ``error_responses(...)``; 422 and 503 are declared for every route by
the app (``COMMON_RESPONSES``), replacing FastAPI's own 422 model.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from offbatch.errors import OffbatchError


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    detail: str
    hint: str | None = None
    errors: list[ValidationIssue] | None = None


DESCRIPTIONS = {
    401: "missing or malformed credentials",
    403: "credentials refused (wrong, foreign or expired token; annotation disabled)",
    404: "not found",
    409: "conflicts with the current state",
    413: "request body too large",
    422: "invalid request (the problems in `errors`) or inconsistent with the data",
    502: "the job's backend could not be reached",
    503: "the database is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each answered with ErrorOut."""
    return {status: {"model": ErrorOut, "description": DESCRIPTIONS[status]} for status in statuses}


COMMON_RESPONSES = error_responses(422, 503)


def _error(status: int, detail: str, *, hint: str | None = None, errors: list[dict] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorOut(detail=detail, hint=hint, errors=errors).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the ErrorOut shape."""

    @app.exception_handler(OffbatchError)
    async def offbatch_error(_request: Request, exc: OffbatchError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return _error(exc.http_status, exc.message, hint=exc.hint, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(str(p) for p in i['loc']) or 'request'}: {i['msg']}" for i in issues[:5])
        return _error(422, f"invalid request: {summary}" if summary else "invalid request", errors=issues)
