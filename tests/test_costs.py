"""Prices, the cost estimate of a job, the budget guardrail and the actual cost of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from offbatch import costs
from offbatch.config import ALLOWED_REGIONS, MACHINE_FAMILY_ACCELERATORS, load_config, parse_config
from offbatch.errors import ConfigError

CONFIGS = Path(costs.__file__).parent / "jobs" / "configs" / "ingredients-spellcheck"


def test_price_table_is_dated_sourced_and_spot_is_cheaper() -> None:
    assert costs.PRICES_AS_OF and costs.PRICES_SOURCE.startswith("https://cloud.google.com/")
    for (region, machine), (on_demand, spot) in costs.MACHINE_PRICES.items():
        assert region in ALLOWED_REGIONS, region
        assert 0 < spot < on_demand, (region, machine)


def test_issue_prices_for_europe_west4() -> None:
    assert costs.hourly_price(location="europe-west4", machine_type="g2-standard-8", spot=False) == 0.8972
    assert costs.hourly_price(location="europe-west4", machine_type="g2-standard-8", spot=True) == 0.3150
    assert costs.hourly_price(location="europe-west4", machine_type="a2-highgpu-1g", spot=False) == 3.7480
    assert costs.hourly_price(location="europe-west4", machine_type="a2-highgpu-1g", spot=True) == 1.4459
    assert costs.hourly_price(location="europe-west4", machine_type="unknown-1", spot=False) is None


def test_production_config_estimate_for_the_whole_dump() -> None:
    config = load_config(CONFIGS / "google-batch.yaml")
    assert config.machine_type.split("-")[0] in MACHINE_FAMILY_ACCELERATORS
    small = config.cost_estimate(rows=539)
    # 539 rows at 10 rows/s = 54 s, after ~10 min of VM, driver, image and model start-up.
    assert small.expected_hours_per_task == pytest.approx((600 + 54) / 3600, abs=1e-3)
    assert small.expected_usd == pytest.approx(0.8972 * (600 + 54) / 3600, rel=1e-3)
    # 4M products cannot finish in 10 h at 10 rows/s: the estimate is capped at the limit.
    dump = config.cost_estimate(rows=4_000_000)
    assert dump.expected_hours_per_task == 10
    assert dump.worst_case_usd == pytest.approx(0.8972 * 10 * 1 * 2)  # 1 task x 2 attempts x 10 h
    assert dump.worst_case_usd <= config.budget_usd


def test_estimate_spreads_rows_over_tasks() -> None:
    est = costs.estimate(hourly_usd=1.0, task_count=4, max_retry_count=0, max_run_seconds=36000,
                         rows=36_000, rows_per_second=1.0)
    assert est.expected_hours_per_task == 2.5  # 9,000 rows per task at 1 row/s
    assert est.expected_usd == 10.0
    assert est.worst_case_usd == 40.0


def test_budget_guardrail_refuses_a_job_whose_worst_case_exceeds_it() -> None:
    data = (CONFIGS / "google-batch.yaml").read_text()
    import yaml

    config = yaml.safe_load(data)
    config.update(task_count=4, parallelism=4, max_retry_count=2)  # 4 x 3 x 10 h x $0.8972 = $107.66
    with pytest.raises(ConfigError, match=r"budget_usd: worst case cost \$107.66 .* exceeds the budget \$25.00"):
        parse_config(config, source="test")
    config.update(provisioning_model="spot", budget_usd=40)  # 4 x 3 x 10 h x $0.3150 = $37.80
    assert parse_config(config, source="test").cost_estimate().worst_case_usd == pytest.approx(37.80)


def test_actual_cost_adds_up_every_attempt() -> None:
    # Two tasks: one preempted after 30 min then 1 h to finish, one of 1.5 h.
    assert costs.actual_cost(hourly_usd=0.8972, task_seconds=[5400.0, 5400.0]) == pytest.approx(0.8972 * 3)
