"""The insights review page: one static HTML page at ``/`` over the JSON API, assets at /static.

The page is plain HTML/JS/CSS shipped as package data (``api/static/``): no build step and no
external resources, so it works offline. Its Content-Security-Policy allows only this origin's
scripts, styles and API, which also keeps user-supplied ingredient texts from ever running as
code should one slip past the page's text-only rendering.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def review_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
