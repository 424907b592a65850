"""Prices of compute and the cost estimates made from them.

The price table is on-demand and spot USD per hour of each machine type offbatch prices, in the
regions offbatch allows, plus the boot disk (pd-balanced, USD per GiB-month). Every figure is
copied from one public price list, ``PRICES_SOURCE``, generated on ``PRICES_AS_OF`` from Google's
Cloud Billing Catalog; no region's figure is copied from another region (where two regions show
the same figure, the list itself does). GPU machine types (g2, a2, a3) include their GPUs in the
machine price. A pair missing here has no price: a config asking for it is refused rather than
estimated with a guess. Spot prices move monthly: ``warnings`` flags a table older than
``STALE_AFTER_DAYS``. Update the table, ``PRICES_AS_OF`` and ``PRICES_SOURCE`` together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

PRICES_AS_OF = "2026-08-20"
PRICES_SOURCE = (
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/"
    "dac31281f2a4575f0a8bff20ac04fc71a5ff2190/pricing.yml"
)
STALE_AFTER_DAYS = 183  # six months

# (region, machine_type) -> (on-demand $/h, spot $/h), from PRICES_SOURCE.
MACHINE_PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("europe-west4", "g2-standard-4"): (0.742916, 0.445776),
    ("europe-west4", "g2-standard-8"): (0.897202, 0.538352),
    ("europe-west4", "a2-highgpu-1g"): (3.747972, 2.247870),
    ("europe-west4", "n2-standard-8"): (0.427664, 0.133328),
    ("europe-west1", "g2-standard-4"): (0.778293, 0.433556),
    ("europe-west1", "g2-standard-8"): (0.939926, 0.523612),
    ("europe-west1", "n2-standard-8"): (0.427336, 0.088848),
    ("europe-west9", "n2-standard-8"): (0.450628, 0.122208),
    ("us-central1", "g2-standard-4"): (0.706832, 0.423956),
    ("us-central1", "g2-standard-8"): (0.853624, 0.512012),
    ("us-central1", "a2-highgpu-1g"): (3.673385, 2.120810),
    ("us-central1", "n2-standard-8"): (0.388472, 0.222944),
    ("us-east1", "g2-standard-4"): (0.706832, 0.423956),
    ("us-east1", "g2-standard-8"): (0.853624, 0.512012),
    ("us-east1", "a2-highgpu-1g"): (3.673385, 2.120810),
    ("us-east1", "n2-standard-8"): (0.388472, 0.222944),
    ("us-east4", "g2-standard-4"): (0.704518, 0.341660),
    ("us-east4", "g2-standard-8"): (0.850829, 0.412620),
}

# Boot disk: pd-balanced (Batch's default boot disk type), USD per GiB-month, from PRICES_SOURCE.
BOOT_DISK_PRICES: dict[str, float] = {
    "europe-west1": 0.10,
    "europe-west4": 0.11,
    "europe-west9": 0.116,
    "us-central1": 0.10,
    "us-east1": 0.10,
    "us-east4": 0.11,
}
HOURS_PER_MONTH = 730  # how the price list turns monthly disk prices into hourly ones
# Batch's boot disk without extra space: 30 GiB; a task's ``boot_disk_mib`` is added to it.
BATCH_BOOT_DISK_GIB = 30

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
    """What a job is expected to cost, the worst case, and every assumption behind them.

    ``hourly_usd`` is one task's VM plus its boot disk. ``work_hours_per_task`` is the time a
    task needs (start-up plus its share of rows at ``rows_per_second``), None when rows or
    throughput are unknown; ``expected_hours_per_task`` is that time capped at the max run
    duration. ``problems`` say why the job cannot work as configured (a task needing longer
    than ``max_run_duration``); ``warnings`` say why the figures may be off (an old table).
    """

    hourly_usd: float
    tasks: int
    expected_hours_per_task: float
    expected_usd: float
    worst_case_usd: float
    machine_hourly_usd: float = 0.0
    disk_hourly_usd: float = 0.0
    boot_disk_gib: float = 0.0
    rows_per_second: float | None = None
    startup_seconds: float = 0.0
    max_run_seconds: int = 0
    work_hours_per_task: float | None = None
    prices_as_of: str = PRICES_AS_OF
    prices_source: str = PRICES_SOURCE
    problems: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "hourly_usd": round(self.hourly_usd, 4),
            "tasks": self.tasks,
            "expected_hours_per_task": round(self.expected_hours_per_task, 4),
            "expected_usd": round(self.expected_usd, 2),
            "worst_case_usd": round(self.worst_case_usd, 2),
            "assumptions": {
                "machine_hourly_usd": round(self.machine_hourly_usd, 4),
                "boot_disk_gib": round(self.boot_disk_gib, 1),
                "boot_disk_hourly_usd": round(self.disk_hourly_usd, 4),
                "rows_per_second": self.rows_per_second,
                "startup_seconds": self.startup_seconds,
                "max_run_seconds": self.max_run_seconds,
                "work_hours_per_task": None if self.work_hours_per_task is None
                else round(self.work_hours_per_task, 4),
                "prices_as_of": self.prices_as_of,
                "prices_source": self.prices_source,
            },
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


def hourly_price(*, location: str, machine_type: str, spot: bool) -> float | None:
    """USD per hour of one VM, or None when the table does not know the pair."""
    if machine_type == LOCAL_MACHINE:
        return 0.0
    prices = MACHINE_PRICES.get((location, machine_type))
    if prices is None:
        return None
    return prices[1] if spot else prices[0]


def boot_disk_gib(*, machine_type: str, boot_disk_mib: int) -> float:
    """GiB of boot disk one task's VM is billed for (none for a local process)."""
    if machine_type == LOCAL_MACHINE:
        return 0.0
    return BATCH_BOOT_DISK_GIB + boot_disk_mib / 1024


def disk_hourly_price(*, location: str, gib: float) -> float | None:
    """USD per hour of ``gib`` of pd-balanced boot disk, or None when the region has no price."""
    if not gib:
        return 0.0
    per_month = BOOT_DISK_PRICES.get(location)
    return None if per_month is None else gib * per_month / HOURS_PER_MONTH


def warnings(*, today: date, as_of: str = PRICES_AS_OF) -> tuple[str, ...]:
    age = (today - date.fromisoformat(as_of)).days
    if age > STALE_AFTER_DAYS:
        message = (f"the price table is {age} days old (prices of {as_of}, {PRICES_SOURCE}): "
                   "spot prices change monthly; refresh offbatch/costs.py")
        return (message,)
    return ()


def estimate(
    *,
    hourly_usd: float,
    task_count: int,
    max_retry_count: int,
    max_run_seconds: int,
    rows: int | None = None,
    rows_per_second: float | None = None,
    startup_seconds: float = 0,
    disk_hourly_usd: float = 0.0,
    boot_disk_gib: float = 0.0,
    today: date | None = None,
) -> CostEstimate:
    """Estimate a job's cost; ``hourly_usd`` is the VM's, ``disk_hourly_usd`` its boot disk's.

    Expected: each task starts up (``startup_seconds``) then processes rows/task_count at
    ``rows_per_second``, bounded by the max run duration; without a throughput, every task
    runs to the limit. A task whose work exceeds the limit is a problem: it would be stopped
    (exit 50005, not retried) with its shard unfinished. Worst case: every task runs every
    attempt to ``max_run_duration``.
    """
    total_hourly = hourly_usd + disk_hourly_usd
    max_hours = max_run_seconds / 3600
    work_hours = None
    problems: tuple[str, ...] = ()
    if rows is not None and rows_per_second:
        per_task_rows = -(-rows // task_count)
        work_hours = (startup_seconds + per_task_rows / rows_per_second) / 3600
        expected_hours = min(work_hours, max_hours)
        if work_hours > max_hours:
            problem = (
                f"each task needs about {work_hours:.1f} h ({startup_seconds:.0f} s start-up + "
                f"{per_task_rows:,} rows at {rows_per_second:g} rows/s) but max_run_duration is "
                f"{max_hours:g} h: tasks would be stopped unfinished; raise task_count or "
                "max_run_duration, or select fewer rows (--limit)"
            )
            problems = (problem,)
    else:
        expected_hours = max_hours
    worst = total_hourly * max_hours * task_count * (max_retry_count + 1)
    return CostEstimate(
        hourly_usd=total_hourly,
        tasks=task_count,
        expected_hours_per_task=expected_hours,
        expected_usd=total_hourly * expected_hours * task_count,
        worst_case_usd=worst,
        machine_hourly_usd=hourly_usd,
        disk_hourly_usd=disk_hourly_usd,
        boot_disk_gib=boot_disk_gib,
        rows_per_second=rows_per_second,
        startup_seconds=startup_seconds,
        max_run_seconds=max_run_seconds,
        work_hours_per_task=work_hours,
        problems=problems,
        warnings=warnings(today=today or date.today()) if total_hourly else (),
    )


def actual_cost(*, hourly_usd: float, task_seconds: list[float]) -> float:
    """Cost of a finished job from the run time of each task attempt."""
    return hourly_usd * sum(task_seconds) / 3600
