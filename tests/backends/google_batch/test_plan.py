"""The launch plan on Google Batch: its estimate's problems stop a launch, its dry run lists them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from offbatch.errors import ConfigError
from offbatch.jobs.base import CONFIG_DIR
from offbatch.launcher import launch

PRODUCTION = CONFIG_DIR / "ingredients-spellcheck" / "google-batch.yaml"


def slow_config(tmp_path: Path) -> Path:
    """The production config at 0.01 rows/s with a 1 h limit: 100 rows need ~3 h per task."""
    data = {**yaml.safe_load(PRODUCTION.read_text()), "rows_per_second": 0.01, "max_run_duration": "1h"}
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_dry_run_lists_tasks_that_cannot_finish_within_max_run_duration(google_settings, db, tmp_path) -> None:
    plan = launch(google_settings, db, job_type_name="ingredients-spellcheck", backend_name="google-batch",
                  config_path=slow_config(tmp_path), limit=100, dry_run=True)
    assert plan.rows == 100
    (problem,) = [p.message for p in plan.problems if "max_run_duration" in p.message]
    assert "each task needs about 2.9 h" in problem and "max_run_duration is 1 h" in problem
    (estimated,) = plan.as_dict()["cost_estimate"]["problems"]
    assert problem.endswith(estimated)


def test_a_launch_whose_tasks_cannot_finish_is_refused_and_leaves_no_input(google_settings, db, tmp_path,
                                                                            fake_batch) -> None:
    with pytest.raises(ConfigError, match="max_run_duration is 1 h"):
        launch(google_settings, db, job_type_name="ingredients-spellcheck", backend_name="google-batch",
               config_path=slow_config(tmp_path), limit=100, confirm=lambda plan: True)
    assert fake_batch.service.calls["CreateJob"] == 0
    storage = Path(google_settings.storage_url.removeprefix("file://"))
    assert not storage.exists() or not any(storage.rglob("*.parquet"))
