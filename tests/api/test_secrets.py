"""The job key and the tokens appear in no log record, response or CLI output."""

from __future__ import annotations

import logging

from offbatch.cli import main
from offbatch.imports import process_queue
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
