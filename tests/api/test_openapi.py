"""schemathesis against the app's own OpenAPI document with every check (`--checks all`): no
5xx, and every status, content type, header and body as declared; invalid data rejected, valid
data accepted.

Each operation is called with generated data as is (mostly refused by auth or validation), and
again with valid credentials so generated bodies reach the code behind authentication. Bounded:
a few examples per operation, no example database (about 20 s per database).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from offbatch.imports import run_import
from tests.api.conftest import bearer, token_for
from tests.conftest import output_row

ALL_CHECKS_EXAMPLES = 20


def all_checks() -> list:
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    return list(CHECKS.get_all())


def test_every_answer_matches_the_openapi_document_under_all_checks(app, settings, db, make_job):
    """schemathesis `--checks all`: statuses, content types, headers and bodies all as declared,
    invalid data rejected, valid data accepted (bounded: a few examples per operation)."""
    job = make_job([[output_row(str(i), original="sucer", correction="sucre") for i in range(5)]],
                   job_id="ingredients-spellcheck-20260101-000000")
    run_import(settings, db, job.id)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    credentials = {
        "import_job_api_v1_batch_import_post": bearer(token_for(settings, job.id)),
        "annotate_api_v1_insights__insight_id__annotate_post": bearer(settings.annotation_token.get_secret_value()),
        "cancel_job_api_v1_batch_jobs__job_id__cancel_post": bearer(settings.annotation_token.get_secret_value()),
    }
    checks = all_checks()
    assert len(checks) >= 14
    operations = 0
    statuses: list[tuple[str, bool, int]] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=ALL_CHECKS_EXAMPLES, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            for headers in ({}, credentials.get(case.operation.definition.raw.get("operationId"), {})):
                response = case.call_and_validate(headers=headers, checks=checks)
                statuses.append((case.operation.path, bool(headers), response.status_code))

        call()
        operations += 1
    assert operations == 10
    # The credentialed calls got past authentication: the checks saw real answers, not only 401s.
    assert any(authed and status in (200, 202, 409)
               for path, authed, status in statuses if path.endswith(("/import", "/annotate")))



def test_every_error_answer_has_the_one_declared_error_model(client, app, settings, make_job):
    job = make_job([[output_row("1")]])
    token = token_for(settings, job.id)
    document = app.openapi()
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {"$ref": error_ref}, (method, path, status)
    declared = {path: set(ops[next(iter(ops))]["responses"]) for path, ops in document["paths"].items()}
    for path in ("/api/v1/insights/{insight_id}", "/api/v1/batch/imports/{import_id}", "/api/v1/batch/jobs/{job_id}"):
        assert "404" in declared[path]
    assert {"401", "403", "404", "413", "422"} <= declared["/api/v1/batch/import"]

    # Our error (ConfigError) and a validation error: the same shape, the input never echoed.
    mismatch = client.post("/api/v1/batch/import", json={"job_id": job.id, "job_type": "other-type"},
                           headers=bearer(token))
    invalid = client.post("/api/v1/batch/import", json={"job_id": token, "job_type": 3}, headers=bearer(token))
    missing = client.get("/api/v1/insights/12345")
    for response, status in ((mismatch, 422), (invalid, 422), (missing, 404)):
        assert response.status_code == status
        body = response.json()
        assert isinstance(body["detail"], str) and set(body) <= {"detail", "hint", "errors"}
    assert "is of type" in mismatch.json()["detail"]
    assert {tuple(e["loc"]) for e in invalid.json()["errors"]} == {("job_id",), ("job_type",)}
    assert token not in invalid.text
