"""Prices, the cost estimate of a job, the budget guardrail and the actual cost of a run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from offbatch import costs, machines
from offbatch.config import ALLOWED_REGIONS, load_config, parse_config
from offbatch.errors import ConfigError

CONFIGS = Path(costs.__file__).parent / "jobs" / "configs" / "ingredients-spellcheck"


def test_price_table_is_dated_sourced_and_spot_is_cheaper() -> None:
    assert date.fromisoformat(costs.PRICES_AS_OF) and costs.PRICES_SOURCE.startswith("https://")
    for (region, machine), (on_demand, spot) in costs.MACHINE_PRICES.items():
        assert region in ALLOWED_REGIONS, region
        assert machine in machines.MACHINES, machine
        assert 0 < spot < on_demand, (region, machine)
    for region in {region for region, _ in costs.MACHINE_PRICES}:
        assert region in costs.BOOT_DISK_PRICES, region


def test_prices_of_the_august_2026_public_list() -> None:
    # The figures the issue checked against: the March 2025 spot prices are gone.
    assert costs.hourly_price(location="europe-west4", machine_type="g2-standard-8", spot=False) == 0.897202
    assert costs.hourly_price(location="europe-west4", machine_type="g2-standard-8", spot=True) == 0.538352
    assert costs.hourly_price(location="europe-west4", machine_type="a2-highgpu-1g", spot=False) == 3.747972
    assert costs.hourly_price(location="europe-west4", machine_type="a2-highgpu-1g", spot=True) == 2.24787
    assert costs.hourly_price(location="europe-west4", machine_type="unknown-1", spot=False) is None


def test_no_region_is_a_copy_of_another() -> None:
    # europe-west1 used to repeat europe-west4's figures; each region has its own list prices.
    west1 = costs.MACHINE_PRICES[("europe-west1", "g2-standard-8")]
    west4 = costs.MACHINE_PRICES[("europe-west4", "g2-standard-8")]
    assert west1 == (0.939926, 0.523612) and west1 != west4
    by_region: dict[str, dict[str, tuple[float, float]]] = {}
    for (region, machine), prices in costs.MACHINE_PRICES.items():
        by_region.setdefault(region, {})[machine] = prices
    europe = [region for region in by_region if region.startswith("europe-")]
    for a in europe:
        for b in europe:
            if a < b:
                shared = set(by_region[a]) & set(by_region[b])
                assert any(by_region[a][m] != by_region[b][m] for m in shared) or not shared, (a, b)


def test_production_config_estimate_shows_its_assumptions_and_counts_the_boot_disk() -> None:
    config = load_config(CONFIGS / "google-batch.yaml")
    small = config.cost_estimate(rows=539)
    disk_gib = 30 + 100000 / 1024
    disk_hourly = disk_gib * 0.11 / 730
    assert small.disk_hourly_usd == pytest.approx(disk_hourly) and small.boot_disk_gib == pytest.approx(disk_gib)
    assert small.hourly_usd == pytest.approx(0.897202 + disk_hourly)
    # 539 rows at 10 rows/s = 54 s, after ~10 min of VM, driver, image and model start-up.
    assert small.expected_hours_per_task == pytest.approx((600 + 54) / 3600, abs=1e-3)
    assert small.expected_usd == pytest.approx((0.897202 + disk_hourly) * (600 + 54) / 3600, rel=1e-3)
    assert small.problems == ()
    shown = small.as_dict()["assumptions"]
    assert shown["rows_per_second"] == 10 and shown["startup_seconds"] == 600
    assert shown["prices_as_of"] == costs.PRICES_AS_OF and shown["prices_source"] == costs.PRICES_SOURCE
    assert shown["boot_disk_gib"] == pytest.approx(disk_gib, abs=0.1)


def test_work_beyond_max_run_duration_is_a_problem_not_a_silent_cap() -> None:
    config = load_config(CONFIGS / "google-batch.yaml")
    # 4M products at 10 rows/s on one task: 111 h of work against a 10 h limit.
    dump = config.cost_estimate(rows=4_000_000)
    assert dump.work_hours_per_task == pytest.approx((600 + 400_000) / 3600)
    assert dump.expected_hours_per_task == 10
    (problem,) = dump.problems
    assert "111.3 h" in problem and "max_run_duration is 10 h" in problem
    assert dump.as_dict()["problems"] == [problem]
    assert dump.worst_case_usd == pytest.approx(dump.hourly_usd * 10 * 1 * 2)  # 1 task x 2 attempts x 10 h
    assert dump.worst_case_usd <= config.budget_usd


def test_an_old_price_table_is_a_warning() -> None:
    kwargs = {"hourly_usd": 1.0, "task_count": 1, "max_retry_count": 0, "max_run_seconds": 3600}
    assert costs.estimate(**kwargs, today=date(2026, 12, 2)).warnings == ()
    (warning,) = costs.estimate(**kwargs, today=date(2027, 3, 1)).warnings
    assert "193 days old" in warning and costs.PRICES_AS_OF in warning
    # A free (local) job has no price to go stale.
    assert costs.estimate(**{**kwargs, "hourly_usd": 0.0}, today=date(2030, 1, 1)).warnings == ()


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
    config.update(task_count=4, parallelism=4, max_retry_count=2)  # 4 x 3 x 10 h x ($0.8972 + disk)
    with pytest.raises(ConfigError, match=r"budget_usd: worst case cost \$109.97 .* exceeds the budget \$25.00"):
        parse_config(config, source="test")
    config.update(provisioning_model="spot", budget_usd=70)  # 4 x 3 x 10 h x ($0.5384 + disk) = $66.91
    assert parse_config(config, source="test").cost_estimate().worst_case_usd == pytest.approx(66.91, abs=0.01)


def test_a_region_without_a_price_is_refused_not_guessed() -> None:
    import yaml

    config = yaml.safe_load((CONFIGS / "google-batch.yaml").read_text())
    config.update(machine_type="g2-standard-12", memory_mib=30000)
    with pytest.raises(ConfigError, match=r"no price known for machine_type 'g2-standard-12' in 'europe-west4'"):
        parse_config(config, source="test")


def test_actual_cost_adds_up_every_attempt() -> None:
    # Two tasks: one preempted after 30 min then 1 h to finish, one of 1.5 h.
    assert costs.actual_cost(hourly_usd=0.8972, task_seconds=[5400.0, 5400.0]) == pytest.approx(0.8972 * 3)
