"""The review page at ``/``: served with its assets, self-contained, and rendering API data as
text only. Grep-level checks on the static files, plus the word diff run under node when present
(CI needs neither node nor a browser; the page was checked by hand in headless Chromium).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from offbatch.api.routes.review import STATIC_DIR

OFF_PRODUCT = "https://world.openfoodfacts.org/product/"
# Product photos, allowed by the review page's CSP for images only.
OFF_IMAGES = "https://images.openfoodfacts.org/images/products/"
# An XML namespace name in the favicon, never fetched.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
STATIC_FILES = sorted(p for p in STATIC_DIR.iterdir() if p.is_file())


def static_text(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def test_root_serves_the_review_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>offbatch · insights review</title>" in r.text
    assert '<script src="/static/app.js"' in r.text
    # Only this origin's scripts, styles and API; no inline script would run.
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "default-src 'none'" in csp


def test_review_page_may_show_photos_from_the_image_server_only(client):
    csp = client.get("/").headers["content-security-policy"]
    assert "img-src 'self' https://images.openfoodfacts.org;" in csp
    # Images only: scripts, styles and requests stay on this origin.
    assert csp.count("images.openfoodfacts.org") == 1


@pytest.mark.parametrize("path", ["/jobs", "/jobs/ingredients-spellcheck-20260101-000000"])
def test_jobs_pages_are_served_with_their_own_csp(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "img-src 'self';" in csp and "openfoodfacts" not in csp
    assert '<script src="/static/console.js"' in r.text


def test_a_malformed_job_page_path_is_refused(client):
    assert client.get("/jobs/Bad_Id").status_code == 422


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/app.js", "javascript"),
        ("/static/diff.js", "javascript"),
        ("/static/style.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/static/index.html", "text/html"),
    ],
)
def test_static_assets_are_served(client, path, content_type):
    r = client.get(path)
    assert r.status_code == 200 and content_type in r.headers["content-type"]
    assert r.content == (STATIC_DIR / path.removeprefix("/static/")).read_bytes()


def test_the_page_is_not_part_of_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)


def test_static_files_are_package_data():
    # pyproject ships api/static/*: no subfolders, or they would be left out of the wheel.
    assert {p.name for p in STATIC_FILES} >= {"index.html", "app.js", "diff.js", "style.css"}
    assert all(p.is_file() for p in STATIC_DIR.iterdir())
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"api/static/*"' in pyproject


@pytest.mark.parametrize("path", STATIC_FILES, ids=lambda p: p.name)
def test_page_loads_nothing_from_elsewhere(path):
    """Works offline: the only external addresses are the product link and product photos."""
    text = path.read_text(encoding="utf-8")
    urls = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", text)
    # Comments in JS/CSS start with // or contain "//" only as comment markers: skip bare "//".
    urls = [u for u in urls if re.match(r"(?:https?:)?//[\w.-]+\.\w", u)]
    assert all(u.startswith((OFF_PRODUCT, OFF_IMAGES)) or u == SVG_NAMESPACE for u in urls), urls
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text)


def test_product_link_points_at_open_food_facts():
    assert f'"{OFF_PRODUCT}"' in static_text("app.js")
    assert "encodeURIComponent(insight.barcode)" in static_text("app.js")


def test_open_food_facts_is_credited():
    footer = re.search(r"<footer>(.*?)</footer>", static_text("index.html"), re.DOTALL).group(1)
    assert "Open Food Facts" in footer and "ODbL" in footer


@pytest.mark.parametrize("name", ["app.js", "diff.js"])
def test_script_builds_the_dom_without_html_strings(name):
    """API data is user content: it must reach the page as text nodes, never parsed as HTML."""
    code = static_text(name)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "DOMParser", "createContextualFragment", "srcdoc"):
        assert sink not in code, sink
    if name == "app.js":
        assert "createTextNode" in code and "textContent" in code


def test_page_has_no_inline_script_or_handlers():
    html = static_text("index.html")
    assert all(re.search(r'\bsrc="/static/', tag) for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\son\w+\s*=", html)


def test_token_stays_in_session_storage_and_out_of_urls():
    code, html = static_text("app.js"), static_text("index.html")
    assert "sessionStorage.setItem(TOKEN_KEY" in code and "localStorage" not in code
    assert '"Authorization": "Bearer " + secret' in code
    # The token input is not in a form, so nothing can submit it as a query string.
    token_section = re.search(r'<section class="token".*?</section>', html, re.DOTALL).group(0)
    assert "<form" not in token_section
    assert 'type="password"' in token_section
    assert "console." not in code


DIFF_CASES = [
    # (original, correction, changed words in original, changed words in correction)
    ("lait, sucer, farine", "lait, sucre, farine", ["sucer"], ["sucre"]),
    ("a b c d", "a x y d", ["b c"], ["x y"]),
    ("farine de blé", "farine de blé", [], []),
    ("", "sucre", [], ["sucre"]),
    ("sel,poivre", "sel, poivre", [], [" "]),
    ("<b>sucre</b> & eau", "<b>sucre</b> & eau, sel", [], [", sel"]),
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_word_diff_marks_only_changed_words():
    script = (
        "const d = require(process.argv[1]);"
        "const cases = JSON.parse(process.argv[2]);"
        "console.log(JSON.stringify(cases.map(([a, b]) => d.diffWords(a, b))));"
    )
    cases = [[a, b] for a, b, *_ in DIFF_CASES]
    out = subprocess.run(["node", "-e", script, str(STATIC_DIR / "diff.js"), json.dumps(cases)],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    for (a, b, del_words, ins_words), result in zip(DIFF_CASES, json.loads(out), strict=True):
        assert "".join(s["text"] for s in result["original"]) == a
        assert "".join(s["text"] for s in result["correction"]) == b
        assert [s["text"] for s in result["original"] if s["changed"]] == del_words
        assert [s["text"] for s in result["correction"] if s["changed"]] == ins_words


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_word_diff_of_a_huge_text_stays_bounded():
    """Beyond the LCS table limit the middle is marked changed as a whole, quickly."""
    script = (
        "const d = require(process.argv[1]);"
        "const a = Array.from({length: 30000}, (_, i) => 'w' + i).join(' ');"
        "const b = Array.from({length: 30000}, (_, i) => 'w' + (i === 5 || i === 29990 ? 'x' : i)).join(' ');"
        "const r = d.diffWords(a, b);"
        "console.log(JSON.stringify([r.original.map(s => s.text).join('') === a,"
        " r.correction.filter(s => s.changed).length]));"
    )
    out = subprocess.run(["node", "-e", script, str(STATIC_DIR / "diff.js")],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    same_text, changed_runs = json.loads(out)
    assert same_text and changed_runs == 1
