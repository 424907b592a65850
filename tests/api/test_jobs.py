"""Job routes of the console API: list with progress and import, detail with config summary,
tasks and events from a real local job, task logs with a cursor, cancel behind the token."""

from __future__ import annotations

import pytest

from offbatch.imports import run_import
from offbatch.launcher import launch
from tests.api.conftest import bearer
from tests.conftest import output_row, wait_for


def test_list_shows_progress_tasks_and_import(client, settings, db, make_job):
    job = make_job([[output_row("1", correction="sucre, farine de blé"), output_row("2")]])
    run_import(settings, db, job.id)
    [row] = client.get("/api/v1/batch/jobs").json()["jobs"]
    assert row["id"] == job.id and row["state"] == "SUCCEEDED" and row["rows_done"] == 2
    assert row["imports"]["state"] == "succeeded" and row["imports"]["insights_created"] == 1
    assert "config" not in row and "storage_url" not in row


def test_detail_has_a_config_summary_without_env(client, settings, db, make_job):
    job = make_job([[output_row("1", correction="sucre, farine de blé")]])
    run_import(settings, db, job.id)
    detail = client.get(f"/api/v1/batch/jobs/{job.id}").json()
    assert detail["config_summary"] == {"location": "local", "machine_type": "local"}
    assert detail["insights_open"] == 1 and detail["insights_annotated"] == 0
    # The local backend never ran this job: the page says why tasks are missing.
    assert detail["tasks"] == [] and "no local job" in detail["backend_error"]


def test_unknown_job_and_task_are_404(client, make_job):
    job = make_job([[output_row("1")]])
    assert client.get("/api/v1/batch/jobs/ingredients-spellcheck-29990101-000000").status_code == 404
    assert client.get(f"/api/v1/batch/jobs/{job.id}/tasks/5/logs").status_code == 404
    assert client.get("/api/v1/batch/jobs/Not_A_Job").status_code == 422


def test_insights_can_be_listed_by_job(client, settings, db, make_job):
    a = make_job([[output_row("1", correction="sucre, farine de blé")]])
    b = make_job([[output_row("2", correction="sucre, farine de blé")]])
    run_import(settings, db, a.id)
    run_import(settings, db, b.id)
    page = client.get("/api/v1/insights", params={"job_id": a.id}).json()
    assert page["count"] == 1 and page["insights"][0]["barcode"] == "1"


def test_server_info_says_whether_annotation_is_on(client, settings):
    info = client.get("/api/v1/info").json()
    assert info["annotation_enabled"] is True and info["notifications_enabled"] is False


@pytest.fixture
def local_job(settings, db):
    """A real job on the local backend (supervisor and task processes), on the bundled sample."""
    plan = launch(settings, db, job_type_name="ingredients-spellcheck", backend_name="local", limit=20,
                  include_predicted=True, confirm=lambda _plan: True)
    return plan.job_id


def test_a_local_job_is_followed_through_the_api(client, local_job):
    def finished():
        detail = client.get(f"/api/v1/batch/jobs/{local_job}").json()
        return detail if detail["state"] in ("SUCCEEDED", "FAILED") else None

    detail = wait_for(finished, timeout=180, interval=0.5, what="the local job to finish")
    assert detail["state"] == "SUCCEEDED" and detail["backend_error"] is None
    assert [t["state"] for t in detail["tasks"]] == ["SUCCEEDED"] * len(detail["tasks"])
    assert all(t["attempts"] == 1 and t["exit_code"] in (0, None) for t in detail["tasks"])
    assert any("submitted" in e["description"] for e in detail["events"])
    assert detail["task_counts"] == {"SUCCEEDED": len(detail["tasks"])}

    # Logs: the tail, then nothing new after the cursor once the job is finished.
    logs = client.get(f"/api/v1/batch/jobs/{local_job}/tasks/0/logs", params={"tail": 3}).json()
    assert 0 < len(logs["lines"]) <= 3 and logs["finished"] is True
    everything = client.get(f"/api/v1/batch/jobs/{local_job}/tasks/0/logs", params={"cursor": 0}).json()
    assert everything["next_cursor"] == logs["next_cursor"] == len(everything["lines"])
    assert everything["lines"][-len(logs["lines"]):] == logs["lines"]
    again = client.get(f"/api/v1/batch/jobs/{local_job}/tasks/0/logs",
                       params={"cursor": everything["next_cursor"]}).json()
    assert again["lines"] == [] and again["finished"] is True


def test_cancel_needs_the_operator_token(client, settings, local_job):
    url = f"/api/v1/batch/jobs/{local_job}/cancel"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=bearer("wrong-token-0123456789")).status_code == 403
    r = client.post(url, headers=bearer(settings.annotation_token.get_secret_value()))
    assert r.status_code == 200 and r.json()["job_id"] == local_job

    def ended():
        state = client.get(f"/api/v1/batch/jobs/{local_job}").json()["state"]
        return state if state in ("CANCELLED", "SUCCEEDED") else None

    # A 20-row job may finish before the cancel lands; either way it ends and cancel is idempotent.
    assert wait_for(ended, timeout=120, interval=0.5, what="the job to end") in ("CANCELLED", "SUCCEEDED")
    assert client.post(url, headers=bearer(settings.annotation_token.get_secret_value())).status_code == 200
