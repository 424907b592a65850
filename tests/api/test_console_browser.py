"""The web console in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
each page loads; a real local job is followed to SUCCEEDED on the jobs page without reloading;
its task logs open on the job page; insights are accepted, rejected and edited; the CSP blocks
a script served from another local origin.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package (its
wheel ships the driver; no browser is downloaded). Without them the tests skip on a developer
machine and fail in CI (``CI`` set), so CI cannot pass without running them. Set
``OFFBATCH_SCREENSHOTS=<folder>`` to save a PNG of each page.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import uvicorn
from sqlalchemy import select

from offbatch.api.app import create_app
from offbatch.db.models import Insight
from offbatch.imports import run_import
from offbatch.launcher import launch
from tests.conftest import output_row

CHROMIUM = os.environ.get("OFFBATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000
SHOTS = os.environ.get("OFFBATCH_SCREENSHOTS")

# Browser tests run on SQLite only: the pages and API are the same on PostgreSQL (tested there
# through the API tests), and a browser per database would double the slowest tests.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Served:
    def __init__(self, app) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not (self.server.started and self.server.servers):
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def serve(settings, db) -> Iterator:
    started: list[Served] = []

    def start(*, settings=settings, background: bool = False) -> Served:
        served = Served(create_app(settings, db, background=background, reconcile_every=1.0))
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    # Open Food Facts' image server is not reachable from tests: fail such requests at once.
    context.route(re.compile(r"^https://images\.openfoodfacts\.org/"), lambda route: route.abort())
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_a_running_job_is_followed_to_succeeded_and_its_logs_open(settings, db, serve, page):
    served = serve(background=True)  # the serve process tracks and imports the job
    plan = launch(settings, db, job_type_name="ingredients-spellcheck", backend_name="local", limit=60,
                  include_predicted=True, confirm=lambda _plan: True)
    page.goto(f"{served.url}/jobs")
    row = page.locator(f'tr[data-job="{plan.job_id}"]')
    row.wait_for()
    shot(page, "jobs-running")
    # The page refreshes by itself while the job runs: no reload from here on.
    row.locator(".state.state-succeeded").wait_for(timeout=180_000)
    row.locator(".import.ok").wait_for(timeout=120_000)
    assert "100%" in row.inner_text()
    assert page.locator("#summary").inner_text().startswith("1 job")
    shot(page, "jobs")

    row.locator("a").click()
    page.wait_for_url(f"**/jobs/{plan.job_id}")
    page.locator("#tasks tbody tr").first.wait_for()
    assert page.locator("#job-state .state.state-succeeded").count() == 1
    assert page.locator("#tasks tbody tr").count() == plan.config.task_count
    assert page.locator("#cancel").is_disabled()
    assert "nothing to cancel" in page.locator("#cancel").get_attribute("title")
    assert "location" in page.locator("#config").inner_text()
    page.locator("#events li").first.wait_for()
    page.locator('#tasks button[data-task="0"]').click()
    page.locator("#logs-state", has_text="(complete)").wait_for()
    assert page.locator("#logs").inner_text().strip(), "the task log is empty"
    page.locator("#insight-links a").first.wait_for()
    shot(page, "job")

    # The insight links lead to this job's insights on the review page.
    page.locator("#insight-links a", has_text="all of this job").click()
    page.wait_for_url(re.compile(r"/\?job="))
    page.locator("#summary", has_text=f"of job {plan.job_id}").wait_for()


SLOW_CONFIG = """
location: local
cpu_milli: 1000
memory_mib: 1024
max_retry_count: 0
max_run_duration: 30m
task_count: 4
parallelism: 1
machine_type: local
budget_usd: 1
engine: cpu
chunk_size: 8
env: {}
"""


def test_a_running_job_is_cancelled_from_its_page(settings, db, serve, page, tmp_path):
    # Four tasks one after the other (each loads its vocabulary first): tens of seconds of
    # running, a wide margin for the page to load and the click to land.
    config = tmp_path / "slow.yaml"
    config.write_text(SLOW_CONFIG)
    served = serve()
    plan = launch(settings, db, job_type_name="ingredients-spellcheck", backend_name="local", limit=40,
                  config_path=config, include_predicted=True, confirm=lambda _plan: True)
    page.goto(f"{served.url}/jobs/{plan.job_id}")
    page.locator("#tasks tbody tr").first.wait_for()
    cancel = page.locator("#cancel")
    assert cancel.is_disabled() and "operator token" in cancel.get_attribute("title")
    page.fill("#token-input", settings.annotation_token.get_secret_value())
    page.click("#token-save")
    assert cancel.is_enabled()
    page.locator('#tasks button[data-task="0"]').click()
    page.locator("#logs-state", has_text="following").wait_for()
    shot(page, "job-running")
    page.once("dialog", lambda dialog: dialog.accept())
    cancel.click()
    page.locator("#job-state .state.state-cancelled").wait_for(timeout=120_000)
    assert page.locator("#tasks .state-cancelled").count() >= 1
    page.locator("#logs-state", has_text="(complete)").wait_for()
    assert cancel.is_disabled()
    shot(page, "job-cancelled")


def test_review_page_accepts_rejects_and_edits(settings, db, serve, page, make_job):
    rows = [output_row(str(3000000000000 + i), original="sucre, farnie de blé", correction="sucre, farine de blé")
            for i in range(3)]
    rows[0] |= {"name": "Pâte à tartiner", "image": "ingredients_fr.10"}
    job = make_job([rows])
    run_import(settings, db, job.id)
    served = serve()
    page.goto(served.url + "/")
    page.locator(".insight").first.wait_for()
    assert page.locator(".insight").count() == 3
    token = settings.annotation_token.get_secret_value()
    page.fill("#token-input", token)
    page.click("#token-save")
    assert token not in page.url

    named = page.locator(".insight", has_text="Pâte à tartiner")
    # The photo is on images.openfoodfacts.org, unreachable here: the page says so and works on.
    named.locator(".no-photo", has_text="could not be loaded").wait_for()
    assert page.locator(".no-photo", has_text="No ingredients photo in the dump").count() == 2
    shot(page, "review")

    cards = page.locator(".insight.state-open")
    cards.nth(0).get_by_role("button", name="Accept", exact=True).click()
    page.locator(".insight.state-accepted").wait_for()
    page.locator(".insight.state-open").nth(0).locator("button.reject").click()
    page.locator(".insight.state-rejected").wait_for()
    last = page.locator(".insight.state-open").nth(0)
    last.get_by_role("button", name="Edit", exact=True).click()
    last.locator("textarea").fill("sucre, farine de blé complète")
    last.get_by_role("button", name="Save edit", exact=True).click()
    page.locator(".insight.state-edited").wait_for()
    shot(page, "review-annotated")

    with db.session() as s:
        got = sorted((i.annotation, (i.data or {}).get("annotated_correction") or "") for i in s.scalars(select(Insight)))
    assert got == [(0, ""), (1, ""), (1, "sucre, farine de blé complète")]


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_the_ingredients_photo_comes_from_the_image_server(settings, db, serve, page, make_job):
    rows = [output_row("3017620422003", original="sucre, huile de palme", correction="sucre, huile de palme, noisettes")]
    rows[0] |= {"name": "Nutella", "image": "ingredients_fr.123"}
    job = make_job([rows])
    run_import(settings, db, job.id)
    requested: list[str] = []

    def answer(route) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=_png(400, 240, (222, 184, 135)))

    # Stands in for images.openfoodfacts.org (unreachable here); registered after the fixture's
    # abort, so it wins. The CSP allows this one origin for images.
    page.context.route(re.compile(r"^https://images\.openfoodfacts\.org/"), answer)
    served = serve()
    page.goto(served.url + "/")
    img = page.locator(".photo img")
    img.wait_for()
    page.wait_for_function("() => { const i = document.querySelector('.photo img'); return i && i.complete && i.naturalWidth > 0; }")
    assert requested == ["https://images.openfoodfacts.org/images/products/301/762/042/2003/ingredients_fr.123.400.jpg"]
    assert page.locator(".product-name", has_text="Nutella").count() == 1
    shot(page, "review-photo")


def test_review_buttons_are_disabled_without_an_annotation_token(settings, db, serve, page, make_job):
    job = make_job([[output_row("1", correction="sucre, farine de blé")]])
    run_import(settings, db, job.id)
    served = serve(settings=settings.model_copy(update={"annotation_token": None}))
    page.goto(served.url + "/")
    card = page.locator(".insight").first
    card.wait_for()
    assert card.get_by_role("button", name="Accept", exact=True).is_disabled()
    assert card.get_by_role("button", name="Reject", exact=True).is_disabled()
    assert "OFFBATCH_ANNOTATION_TOKEN" in card.locator(".reviewing-off").inner_text()
    assert page.locator("#token-off").is_visible() and not page.locator("#token-input").is_visible()
    shot(page, "review-read-only")


def test_a_page_past_the_end_shows_the_last_page(settings, db, serve, page, make_job):
    job = make_job([[output_row(str(i), correction="sucre, farine de blé") for i in range(1, 4)]])
    run_import(settings, db, job.id)
    served = serve()
    page.goto(served.url + "/?page=99")
    page.locator("#page-info", has_text="Page 1 of 1").wait_for()
    assert page.locator(".insight").count() == 3
    assert "page=99" not in page.url


def test_an_unknown_job_says_so(serve, page):
    served = serve()
    page.goto(served.url + "/jobs/ingredients-spellcheck-29990101-000000")
    page.locator("#message", has_text="No job ingredients-spellcheck-29990101-000000").wait_for()


class _Evil(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b"window.offbatchEvil = true;"
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs/ingredients-spellcheck-29990101-000000"])
def test_the_csp_blocks_scripts_from_another_origin(serve, page, path):
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        evil = f"http://127.0.0.1:{other.server_address[1]}/evil.js"
        served = serve()
        page.goto(served.url + path)
        page.wait_for_load_state("load")
        blocked = page.evaluate(
            """(src) => new Promise((resolve) => {
                 document.addEventListener("securitypolicyviolation",
                   (e) => resolve({directive: e.effectiveDirective, uri: e.blockedURI}), {once: true});
                 const s = document.createElement("script");
                 s.src = src;
                 document.head.appendChild(s);
               })""",
            evil,
        )
        assert blocked["directive"] == "script-src-elem" and blocked["uri"].startswith(evil.rsplit("/", 1)[0])
        inline = page.evaluate(
            """() => new Promise((resolve) => {
                 document.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective), {once: true});
                 const s = document.createElement("script");
                 s.textContent = "window.offbatchInline = true";
                 document.head.appendChild(s);
               })"""
        )
        assert inline == "script-src-elem"
        assert page.evaluate("() => [window.offbatchEvil, window.offbatchInline]") == [None, None]
        assert _Evil.hits == [], "the browser fetched the other origin's script"
    finally:
        other.shutdown()
        other.server_close()
