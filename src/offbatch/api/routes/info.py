"""What the console pages need to know about this server (nothing secret)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from offbatch import __version__
from offbatch.api.deps import SettingsDep

router = APIRouter(prefix="/api/v1", tags=["server"])


class ServerInfo(BaseModel):
    version: str
    # Whether OFFBATCH_ANNOTATION_TOKEN is set: without it, annotating and cancelling are off.
    annotation_enabled: bool
    notifications_enabled: bool


@router.get("/info", response_model=ServerInfo)
def server_info(settings: SettingsDep) -> ServerInfo:
    return ServerInfo(
        version=__version__,
        annotation_enabled=settings.annotation_token is not None,
        notifications_enabled=bool(settings.notify_url),
    )
