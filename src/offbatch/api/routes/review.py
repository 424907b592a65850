"""The web console's pages: insights review at ``/``, jobs at ``/jobs``, one job at
``/jobs/{id}``; their assets at /static.

The pages are plain HTML/JS/CSS shipped as package data (``api/static/``): no build step and no
external scripts or styles, so they work offline. Their Content-Security-Policy allows only this
origin's scripts, styles and API, which also keeps user-supplied texts from ever running as code
should one slip past the pages' text-only rendering. The review page may also show product
photos, from Open Food Facts' image server only (``img-src``: images, nothing else).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from offbatch.api.schemas import JOB_ID_PATTERN

STATIC_DIR = FilePath(__file__).resolve().parent.parent / "static"
# Product photos: https://images.openfoodfacts.org/images/products/<barcode path>/<key>.<rev>.400.jpg
IMAGE_ORIGIN = "https://images.openfoodfacts.org"


def page_headers(*, img_src: str = "'self'") -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src {img_src}; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


PAGE_HEADERS = page_headers()
REVIEW_HEADERS = page_headers(img_src=f"'self' {IMAGE_ORIGIN}")

router = APIRouter(include_in_schema=False)


def _page(name: str, headers: dict[str, str]) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/")
def review_page() -> FileResponse:
    return _page("index.html", REVIEW_HEADERS)


@router.get("/jobs")
def jobs_page() -> FileResponse:
    return _page("jobs.html", PAGE_HEADERS)


@router.get("/jobs/{job_id}")
def job_page(job_id: Annotated[str, Path(pattern=JOB_ID_PATTERN, max_length=63)]) -> FileResponse:
    # The page reads the id from its URL and asks the API; an unknown job is the API's 404.
    return _page("job.html", PAGE_HEADERS)
