"""schemathesis against the app's own OpenAPI spec: no request makes a 5xx.

Each operation is called with generated data as is (mostly refused by auth or validation), and
again with valid credentials so generated bodies reach the code behind authentication. Bounded:
a few examples per operation, no example database.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from offbatch.imports import run_import
from tests.api.conftest import bearer, token_for
from tests.conftest import output_row

EXAMPLES = 30


def test_no_request_makes_a_5xx(app, settings, db, make_job):
    job = make_job([[output_row(str(i), original="sucer", correction="sucre") for i in range(5)]],
                   job_id="ingredients-spellcheck-20260101-000000")
    run_import(settings, db, job.id)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    credentials = {
        "import_job_api_v1_batch_import_post": bearer(token_for(settings, job.id)),
        "annotate_api_v1_insights__insight_id__annotate_post": bearer(settings.annotation_token.get_secret_value()),
        "cancel_job_api_v1_batch_jobs__job_id__cancel_post": bearer(settings.annotation_token.get_secret_value()),
    }
    checked = 0
    statuses: list[tuple[str, bool, int]] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            for headers in ({}, credentials.get(case.operation.definition.raw.get("operationId"), {})):
                response = case.call(headers=headers)
                statuses.append((case.operation.path, bool(headers), response.status_code))
                assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)

        call()
        checked += 1
    assert checked == 10
    # The credentialed calls got past authentication: the check saw real answers, not only 401s.
    assert any(authed and status in (200, 202, 409)
               for path, authed, status in statuses if path.endswith(("/import", "/annotate")))
