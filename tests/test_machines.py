"""The machine table: consistent with itself, with the price table and with the public list's specs."""

from __future__ import annotations

import pytest

from offbatch import costs, machines
from offbatch.config import ALLOWED_ACCELERATORS, ALLOWED_REGIONS


def test_every_machine_either_carries_gpus_accepts_them_or_is_cpu_only() -> None:
    for name, machine in machines.MACHINES.items():
        assert name == machine.name
        assert (machine.gpu is None) == (machine.gpu_count == 0), name
        assert not (machine.gpu and machine.attachable), name
        assert bool(machine.attachable) == bool(machine.attachable_counts), name


def test_every_gpu_offbatch_allows_has_regions_and_only_allowed_ones() -> None:
    assert ALLOWED_ACCELERATORS <= set(machines.GPU_REGIONS)
    for regions in machines.GPU_REGIONS.values():
        assert regions and regions <= ALLOWED_REGIONS


def test_every_priced_machine_is_in_the_table_and_offered_where_priced() -> None:
    for region, name in costs.MACHINE_PRICES:
        machine = machines.MACHINES[name]
        if machine.gpu:
            assert region in machines.GPU_REGIONS[machine.gpu], (region, name)


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_gib", "gpus"),
    # cpu / ram / l4 or a100 fields of the price list of 2026-08-20 (costs.PRICES_SOURCE).
    [("g2-standard-4", 4, 16, 1), ("g2-standard-8", 8, 32, 1), ("g2-standard-48", 48, 192, 4),
     ("a2-highgpu-1g", 12, 85, 1), ("n2-standard-8", 8, 32, 0)],
)
def test_specs_match_the_public_list(name, vcpus, memory_gib, gpus) -> None:
    machine = machines.MACHINES[name]
    assert (machine.vcpus, machine.memory_gib, machine.gpu_count) == (vcpus, memory_gib, gpus)


def test_a_request_that_fits_has_no_problems() -> None:
    assert machines.problems(machine_type="g2-standard-8", region="europe-west4", accelerator_type="nvidia-l4",
                             accelerator_count=1, cpu_milli=8000, memory_mib=32768) == []
    assert machines.problems(machine_type="n1-standard-8", region="us-central1", accelerator_type="nvidia-tesla-t4",
                             accelerator_count=4, cpu_milli=8000, memory_mib=30 * 1024) == []
