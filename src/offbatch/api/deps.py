"""Request dependencies: the database and settings, and the two kinds of bearer credentials.

Authentication runs before the request body is read: routes that take a body declare no body
parameter (FastAPI would parse it before dependencies) and call ``read_body`` after their auth
dependency has passed. So a bad token gets 401/403 whatever the body; tokens are never logged
or echoed.
"""

from __future__ import annotations

import hmac
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from offbatch.auth import verify_token
from offbatch.db.session import Database
from offbatch.errors import AuthError, ForbiddenError, RequestTooLarge
from offbatch.settings import Settings

M = TypeVar("M", bound=BaseModel)

_bearer = HTTPBearer(auto_error=False, description="Job-scoped import token, or the annotation token")


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _bearer_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials.strip():
        if request.headers.get("authorization"):
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        raise AuthError("missing Authorization header", hint="send 'Authorization: Bearer <token>'")
    return credentials.credentials.strip()


def import_grant(request: Request, credentials: Credentials, settings: SettingsDep) -> str:
    """The job id that the request's import token grants (401 malformed, 403 invalid/expired)."""
    token = _bearer_token(request, credentials)
    # The token names its job; the MAC proves it. The body's job must then be that one.
    token_job = token.rsplit(".", 2)[0]
    verify_token(settings.job_key(), token, job_id=token_job)
    return token_job


def annotator(request: Request, credentials: Credentials, settings: SettingsDep) -> str:
    """Check the annotation token (OFFBATCH_ANNOTATION_TOKEN); annotation is off when unset."""
    token = _bearer_token(request, credentials)
    if settings.annotation_token is None:
        raise ForbiddenError("annotation is disabled on this server", hint="set OFFBATCH_ANNOTATION_TOKEN")
    expected = settings.annotation_token.get_secret_value()
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ForbiddenError("invalid annotation token")
    return "api"


ImportGrant = Annotated[str, Depends(import_grant)]
Annotator = Annotated[str, Depends(annotator)]

MAX_BODY_BYTES = 1 << 20


async def read_body(request: Request, model: type[M], *, limit: int = MAX_BODY_BYTES) -> M:
    """Read and validate a JSON body of at most ``limit`` bytes (413 beyond, 422 if invalid)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestTooLarge(f"request body over {limit} bytes")
    try:
        return model.model_validate_json(bytes(body))
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False, include_input=False)) from None


def body_schema(model: type[BaseModel]) -> dict:
    """OpenAPI for a body read by ``read_body`` (so clients and schemathesis see it)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(ref_template="#/components/schemas/{model}")}},
        }
    }
