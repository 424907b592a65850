"""Prices of compute and the cost estimates made from them.

The price table is on-demand and spot USD per hour in the regions offbatch allows, taken from
Google Cloud's public pricing pages (Compute Engine VM and GPU pricing), read on 2026-11-24.
GPU-attached machine types (g2, a2, a3) include their GPUs in the machine price. Update the
table and ``PRICES_AS_OF`` together.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-11-24"
PRICES_SOURCE = "https://cloud.google.com/compute/vm-instance-pricing (machine types incl. GPUs)"

# (region, machine_type) -> (on-demand $/h, spot $/h)
MACHINE_PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("europe-west4", "g2-standard-4"): (0.7785, 0.2733),
    ("europe-west4", "g2-standard-8"): (0.8972, 0.3150),
    ("europe-west4", "g2-standard-12"): (1.0159, 0.3567),
    ("europe-west4", "a2-highgpu-1g"): (3.7480, 1.4459),
    ("europe-west4", "a3-highgpu-1g"): (11.0613, 3.5800),
    ("europe-west4", "n2-standard-8"): (0.4274, 0.1040),
    ("europe-west1", "g2-standard-8"): (0.8972, 0.3150),
    ("europe-west1", "n2-standard-8"): (0.4274, 0.1040),
    ("us-central1", "g2-standard-4"): (0.7068, 0.2481),
    ("us-central1", "g2-standard-8"): (0.8536, 0.2996),
    ("us-central1", "a2-highgpu-1g"): (3.6730, 1.3148),
    ("us-central1", "a3-highgpu-1g"): (11.0613, 3.5800),
    ("us-central1", "n2-standard-8"): (0.3885, 0.0945),
}

LOCAL_MACHINE = "local"

# Billed seconds before a task's first row: VM boot, GPU driver install, image pull (vLLM
# images are ~10 GB), model download and load. Rough figures, not measured on Google: they
# make the expected cost of a short job honest; the worst case ignores them because
# max_run_duration bounds the whole attempt anyway.
STARTUP_SECONDS = {"gpu": 600, "cpu": 120, LOCAL_MACHINE: 0}
GPU_FAMILIES = ("g2", "a2", "a3")


def startup_seconds(machine_type: str) -> int:
    if machine_type == LOCAL_MACHINE:
        return STARTUP_SECONDS[LOCAL_MACHINE]
    return STARTUP_SECONDS["gpu" if machine_type.split("-", 1)[0] in GPU_FAMILIES else "cpu"]


@dataclass(frozen=True)
class CostEstimate:
    hourly_usd: float
    tasks: int
    expected_hours_per_task: float
    expected_usd: float
    worst_case_usd: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "hourly_usd": round(self.hourly_usd, 4),
            "tasks": self.tasks,
            "expected_hours_per_task": round(self.expected_hours_per_task, 4),
            "expected_usd": round(self.expected_usd, 2),
            "worst_case_usd": round(self.worst_case_usd, 2),
        }


def hourly_price(*, location: str, machine_type: str, spot: bool) -> float | None:
    """USD per hour of one VM, or None when the table does not know the pair."""
    if machine_type == LOCAL_MACHINE:
        return 0.0
    prices = MACHINE_PRICES.get((location, machine_type))
    if prices is None:
        return None
    return prices[1] if spot else prices[0]


def estimate(
    *,
    hourly_usd: float,
    task_count: int,
    max_retry_count: int,
    max_run_seconds: int,
    rows: int | None = None,
    rows_per_second: float | None = None,
    startup_seconds: float = 0,
) -> CostEstimate:
    """Estimate a job's cost.

    Expected: each task starts up (``startup_seconds``) then processes rows/task_count at
    ``rows_per_second``, bounded by the max run duration; without a throughput, every task
    runs to the limit. Worst case: every task runs every attempt to ``max_run_duration``.
    """
    max_hours = max_run_seconds / 3600
    if rows is not None and rows_per_second:
        per_task_rows = -(-rows // task_count)
        expected_hours = min((startup_seconds + per_task_rows / rows_per_second) / 3600, max_hours)
    else:
        expected_hours = max_hours
    worst = hourly_usd * max_hours * task_count * (max_retry_count + 1)
    return CostEstimate(
        hourly_usd=hourly_usd,
        tasks=task_count,
        expected_hours_per_task=expected_hours,
        expected_usd=hourly_usd * expected_hours * task_count,
        worst_case_usd=worst,
    )


def actual_cost(*, hourly_usd: float, task_seconds: list[float]) -> float:
    """Cost of a finished job from the run time of each task attempt."""
    return hourly_usd * sum(task_seconds) / 3600
