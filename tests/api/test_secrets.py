"""The job key and the tokens appear in no log record, response or CLI output."""

from __future__ import annotations

import logging

from offbatch.cli import main
from offbatch.imports import process_queue
from offbatch.redaction import REDACTED, redact_queries
from tests.api.conftest import bearer, token_for
from tests.conftest import TEST_KEY, output_row


def test_key_and_tokens_never_leak(client, settings, db, make_job, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    job = make_job([[output_row("1", original="sucer", correction="sucre")]])
    bad_job = make_job([[output_row("2")]], task_count=2)
    token = token_for(settings, job.id)
    expired = token_for(settings, job.id, expires_in=-5)
    texts: list[str] = []
    body = {"job_id": job.id, "job_type": "ingredients-spellcheck"}
    for headers in (bearer(token), bearer(expired), bearer(token[:-1] + "0"), {"Authorization": token}):
        texts.append(client.post("/api/v1/batch/import", json=body, headers=headers).text)
    texts.append(client.post("/api/v1/batch/import", json={**body, "job_id": bad_job.id}, headers=bearer(token)).text)
    process_queue(settings, db, worker_id="w", once=True)
    texts.append(client.get("/api/v1/batch/jobs").text)
    texts.append(client.get(f"/api/v1/batch/jobs/{job.id}").text)
    texts.append(client.get("/api/v1/insights").text)
    texts.append(client.post("/api/v1/insights/1/annotate", json={"annotation": "accept"},
                             headers=bearer("wrong")).text)
    for name, value in {"OFFBATCH_DATABASE_URL": settings.db_url, "OFFBATCH_HOME": str(settings.home),
                        "OFFBATCH_STORAGE_URL": settings.storage_root, "OFFBATCH_BATCH_JOB_KEY": TEST_KEY}.items():
        monkeypatch.setenv(name, value)
    from offbatch.cli import context

    context.settings.cache_clear()
    context.database.cache_clear()
    for args in (["import", job.id], ["import", bad_job.id], ["insights"], ["reconcile"]):
        main(args)
    out = capsys.readouterr()
    assert "1 predictions" in out.out and "error: job" in out.err  # the commands really ran
    texts += [out.out, out.err]
    context.settings.cache_clear()
    context.database.cache_clear()
    texts.extend(record.getMessage() for record in caplog.records)
    texts.append(caplog.text)
    everything = "\n".join(texts)
    assert "sucre" in everything  # the texts are real output
    for secret in (TEST_KEY, token, expired, token.rsplit(".", 1)[1], settings.annotation_token.get_secret_value()):
        assert secret not in everything


def test_offbatch_serve_logs_no_key_nor_token_sent_in_headers_query_strings_or_bodies(settings, db_url, make_job):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    from tests.conftest import wait_for
    from tests.fakes.gcs_fixtures import free_port

    job = make_job([[output_row(str(i), original="sucer", correction="sucre") for i in range(20)]])
    token = token_for(settings, job.id)
    annotation = settings.annotation_token.get_secret_value()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OFFBATCH_")},
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
        "OFFBATCH_HOME": str(settings.home), "OFFBATCH_DATABASE_URL": db_url,
        "OFFBATCH_STORAGE_URL": settings.storage_root, "OFFBATCH_BATCH_JOB_KEY": TEST_KEY,
        "OFFBATCH_ANNOTATION_TOKEN": annotation,
    }
    server = subprocess.Popen([sys.executable, "-m", "offbatch", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    secrets = {"key": TEST_KEY, "token": token, "annotation": annotation}
    try:
        def up() -> bool:
            assert server.poll() is None, "offbatch serve exited"
            try:
                return httpx.get(f"{base}/api/v1/batch/jobs", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what="offbatch serve to answer")
        body = {"job_id": job.id, "job_type": "ingredients-spellcheck"}
        with httpx.Client(base_url=base, timeout=10) as http:
            accepted = http.post(f"/api/v1/batch/import?token={token}&key={TEST_KEY}", json=body, headers=bearer(token))
            assert accepted.status_code == 202
            for secret in secrets.values():
                http.get(f"/api/v1/insights?token={secret}")
                http.get(f"/api/v1/insights?{secret}")
                http.get(f"/api/v1/batch/jobs?access_token={secret}&limit=5", headers=bearer(secret))
                http.get(f"/nowhere?token={secret}")
                http.post("/api/v1/batch/import", json={"job_id": secret, "job_type": secret}, headers=bearer(secret))
                http.post(f"/api/v1/insights/1/annotate?token={secret}", json={"annotation": "accept", "username": secret},
                          headers=bearer("wrong-token"))
            wait_for(lambda: (http.get(f"/api/v1/batch/jobs/{job.id}").json().get("imports") or {}).get("state")
                     == "succeeded", timeout=60, interval=0.2, what="the import by the server's importer")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # The access log and our own logging really wrote lines about these requests.
    assert f"POST /api/v1/batch/import{REDACTED} HTTP/1.1\" 202" in output
    assert f"GET /api/v1/insights{REDACTED} HTTP/1.1\" 200" in output
    assert f"of {job.id} succeeded" in output
    for name, secret in {**secrets, "token MAC": token.rsplit(".", 1)[1]}.items():
        assert secret not in output, f"the {name} is in the serve log"


def test_redact_queries_keeps_paths_and_drops_every_query():
    assert redact_queries("GET /api/v1/insights?token=abc&x=1 ok") == f"GET /api/v1/insights{REDACTED} ok"
    assert redact_queries("POST http://h:8000/a/b?abc.123.def") == f"POST http://h:8000/a/b{REDACTED}"
    assert redact_queries("is it? yes") == "is it? yes"
