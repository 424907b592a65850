"""Every schemathesis check (status codes declared, bodies match their response models, RFC 3339
times, ...) on the routes the web console reads and the cancel it sends, with and without the
operator token."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import CHECKS

from offbatch.imports import run_import
from tests.api.conftest import bearer
from tests.conftest import output_row

CONSOLE_PATHS = ("/api/v1/batch/jobs", "/api/v1/info", "/api/v1/insights")


def test_console_routes_pass_every_check(app, settings, db, make_job):
    job = make_job([[output_row(str(i), original="sucer", correction="sucre") for i in range(3)]],
                   job_id="ingredients-spellcheck-20260101-000000")
    run_import(settings, db, job.id)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = CHECKS.get_all()
    operator = bearer(settings.annotation_token.get_secret_value())
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # One insight and annotate are the review API's (tested in test_openapi.py).
        if not operation.path.startswith(CONSOLE_PATHS) or operation.path.startswith("/api/v1/insights/"):
            continue
        seen.append((operation.method.upper(), operation.path))

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=15, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            for headers in ({}, operator):
                case.call_and_validate(headers=headers, checks=checks)

        call()
    assert sorted(seen) == [
        ("GET", "/api/v1/batch/jobs"), ("GET", "/api/v1/batch/jobs/{job_id}"),
        ("GET", "/api/v1/batch/jobs/{job_id}/tasks/{task}/logs"), ("GET", "/api/v1/info"),
        ("GET", "/api/v1/insights"),
        ("POST", "/api/v1/batch/jobs/{job_id}/cancel"),
    ]
