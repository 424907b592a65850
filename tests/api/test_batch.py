"""The import webhook and the batch read routes."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from offbatch.api.app import create_app
from offbatch.db.models import ImportRun, Prediction
from offbatch.imports import process_queue
from tests.api.conftest import bearer, token_for
from tests.conftest import output_row

BODIES = {
    "valid": b'{"job_id": "%s", "job_type": "ingredients-spellcheck"}',
    "not json": b"{not json",
    "empty": b"",
    "wrong types": b'{"job_id": 3, "job_type": []}',
    "another job": b'{"job_id": "other-job", "job_type": "ingredients-spellcheck"}',
}


def rows(n: int, prefix: str = "0") -> list[dict]:
    return [output_row(f"{prefix}{i:012d}", original="lait, sucer", correction="lait, sucre") for i in range(n)]


@pytest.fixture
def job(make_job):
    return make_job([rows(40), rows(0)])


def auth_cases(settings, job_id: str) -> dict[str, tuple[dict[str, str], int]]:
    good = token_for(settings, job_id)
    return {
        "no header": ({}, 401),
        "wrong scheme": ({"Authorization": f"Basic {good}"}, 401),
        "empty bearer": ({"Authorization": "Bearer "}, 401),
        "malformed token": (bearer("not-a-token"), 401),
        "wrong token": (bearer(good[:-8] + "00000000"), 403),
        "expired token": (bearer(token_for(settings, job_id, expires_in=-1)), 403),
        "token under another key": (bearer(good.rsplit(".", 1)[0] + "." + "a" * 64), 403),
    }


def test_auth_matrix_refuses_whatever_the_body(client, settings, job, db):
    for name, (headers, status) in auth_cases(settings, job.id).items():
        for body_name, body in BODIES.items():
            payload = body % job.id.encode() if b"%s" in body else body
            r = client.post("/api/v1/batch/import", content=payload, headers={**headers, "Content-Type": "application/json"})
            assert r.status_code == status, (name, body_name, r.text)
            if status == 401:
                assert r.headers["WWW-Authenticate"] == "Bearer"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_token_of_one_job_cannot_import_another(client, settings, make_job):
    # A valid token of job A proves the caller is A's task: any body naming another job is 403
    # (a malformed body from a valid token holder is a 422, see the decision in docs/architecture.md).
    a, b = make_job([rows(1)]), make_job([rows(1)])
    for target in (b.id, "ingredients-spellcheck-20990101-000000"):
        r = client.post("/api/v1/batch/import", json={"job_id": target, "job_type": "ingredients-spellcheck"},
                        headers=bearer(token_for(settings, a.id)))
        assert r.status_code == 403 and "does not grant this job" in r.json()["detail"]


def test_import_is_accepted_once_and_deliveries_counted(client, settings, job, db):
    headers = bearer(token_for(settings, job.id))
    body = {"job_id": job.id, "job_type": "ingredients-spellcheck"}
    first = client.post("/api/v1/batch/import", json=body, headers=headers)
    second = client.post("/api/v1/batch/import", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["import_id"] == second.json()["import_id"]
    assert (first.json()["state"], second.json()["deliveries"]) == ("queued", 2)
    assert process_queue(settings, db, worker_id="w", once=True) == 1
    status = client.get(first.json()["status_url"]).json()
    assert (status["state"], status["predictions_created"], status["insights_created"]) == ("succeeded", 40, 40)
    third = client.post("/api/v1/batch/import", json=body, headers=headers)
    assert third.json()["state"] == "succeeded" and third.json()["deliveries"] == 3
    assert process_queue(settings, db, worker_id="w", once=True) == 0


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"job_id": "JOB", "job_type": "x"}, 422, None),
        ({"job_id": "{job}", "job_type": "other-type"}, 422, "is of type"),
        ({"job_id": "{job}", "job_type": "ingredients-spellcheck", "path": "/etc"}, 422, None),
    ],
)
def test_bad_import_bodies_get_422(client, settings, job, body, status, detail):
    body = {k: v.replace("{job}", job.id) if isinstance(v, str) else v for k, v in body.items()}
    r = client.post("/api/v1/batch/import", json=body, headers=bearer(token_for(settings, job.id)))
    assert r.status_code == status, r.text
    if detail:
        assert detail in r.json()["detail"]


def test_unknown_job_with_a_valid_token_is_404(client, settings):
    job_id = "ingredients-spellcheck-20990101-000000"
    r = client.post("/api/v1/batch/import", json={"job_id": job_id, "job_type": "ingredients-spellcheck"},
                    headers=bearer(token_for(settings, job_id)))
    assert r.status_code == 404


def test_oversized_bodies_get_413(client, settings, job):
    headers = bearer(token_for(settings, job.id))
    big = b'{"job_id": "' + b"a" * 20_000 + b'"}'
    assert client.post("/api/v1/batch/import", content=big, headers=headers).status_code == 413
    huge = b"x" * (2 << 20)
    assert client.post("/api/v1/batch/import", content=huge, headers=headers).status_code == 413


def test_job_with_missing_parts_is_accepted_as_waiting(client, settings, make_job):
    job = make_job([rows(3)], task_count=2)
    r = client.post("/api/v1/batch/import", json={"job_id": job.id, "job_type": "ingredients-spellcheck"},
                    headers=bearer(token_for(settings, job.id)))
    assert r.status_code == 202 and r.json()["state"] == "waiting"


def test_jobs_and_imports_are_listed(client, settings, job, db):
    assert client.get("/api/v1/batch/jobs").json()["jobs"][0]["id"] == job.id
    detail = client.get(f"/api/v1/batch/jobs/{job.id}").json()
    assert detail["state"] == "SUCCEEDED" and detail["imports"] is None
    assert "storage_url" not in detail and "config" not in detail
    assert client.get("/api/v1/batch/jobs/nope").status_code == 404
    assert client.get("/api/v1/batch/imports/12345").status_code == 404


def _serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def test_ten_concurrent_deliveries_make_one_import(settings, db, make_job):
    job = make_job([rows(1_000, "1"), rows(500, "2")])
    app = create_app(settings, db, background=True, reconcile_every=3600)
    server, thread, url = _serve(app)
    try:
        headers = bearer(token_for(settings, job.id))
        body = {"job_id": job.id, "job_type": "ingredients-spellcheck"}
        barrier = threading.Barrier(10)
        answers: list[httpx.Response] = []

        def deliver() -> None:
            barrier.wait()
            answers.append(httpx.post(f"{url}/api/v1/batch/import", json=body, headers=headers, timeout=30))

        threads = [threading.Thread(target=deliver) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert [a.status_code for a in answers] == [202] * 10
        assert len({a.json()["import_id"] for a in answers}) == 1
        status_url = url + answers[0].json()["status_url"]
        deadline = time.monotonic() + 60
        while (status := httpx.get(status_url).json())["state"] != "succeeded":
            assert status["state"] in ("queued", "running") and time.monotonic() < deadline, status
            time.sleep(0.05)
        assert (status["deliveries"], status["predictions_created"]) == (10, 1_500)
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Prediction)) == 1_500
            assert s.scalar(select(func.count()).select_from(ImportRun)) == 1
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_any_latin1_bearer_token_is_a_401_or_403_never_a_500(client, job):
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st

    latin1 = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), min_size=1, max_size=120)
    body = BODIES["valid"] % job.id.encode()

    @hypothesis_settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(token=st.one_of(latin1, st.builds(lambda j, e, m: f"{j}.{e}.{m}", latin1, latin1, latin1),
                           st.builds(lambda e: f"{job.id}.{e}.{'0' * 64}", latin1)))
    def call(token: str) -> None:
        # Raw header bytes, as a client may send them; Starlette decodes them as latin-1.
        response = client.post("/api/v1/batch/import", content=body,
                               headers={"Authorization": b"Bearer " + token.encode("latin-1")})
        assert response.status_code in (401, 403), (token, response.status_code, response.text)

    call()
    superscript = client.post("/api/v1/batch/import", content=body,
                              headers={"Authorization": f"Bearer {job.id}.1²³.{'0' * 64}".encode("latin-1")})
    assert superscript.status_code == 401
