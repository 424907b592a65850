"""The Compute Engine machine types offbatch may ask Google Batch for, and what each one is.

One table, used by config validation (``config.py``) and by the fake Batch service in the tests,
so a config the fake accepts is one Google accepts. Each machine: vCPUs, memory, and either the
GPUs it carries (G2, A2, A3: fixed type and count) or the GPUs that can be attached to it (N1 +
T4, in the counts Compute Engine allows). Plain CPU types carry none.

Sources, read 2026-12-02: Compute Engine's machine-family pages ("Accelerator-optimized machine
family": G2, A2, A3; "General-purpose machine family": N1, N2) and the "GPU locations" page; vCPU,
memory and GPU counts cross-checked against the ``cpu``/``ram``/``l4``/``a100`` fields of the
public price list named in ``costs.py`` (generated 2026-08-20). Memory is in GiB (what Google's
pages call GB). ``GPU_REGIONS`` lists, among offbatch's allowed regions, those with at least one
zone offering the GPU; a region missing here is refused even if Google added it since: update
the table and ``MACHINES_AS_OF`` together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MACHINES_AS_OF = "2026-12-02"


@dataclass(frozen=True)
class Machine:
    name: str
    vcpus: int
    memory_gib: float
    gpu: str | None = None  # the GPU type the machine carries (bundled: count fixed)
    gpu_count: int = 0
    attachable: frozenset[str] = field(default_factory=frozenset)  # GPUs that can be attached (N1)
    attachable_counts: tuple[int, ...] = ()

    @property
    def cpu_milli(self) -> int:
        return self.vcpus * 1000

    @property
    def memory_mib(self) -> int:
        return int(self.memory_gib * 1024)


def _family(prefix: str, rows: list[tuple[str, int, float, int]], gpu: str | None) -> dict[str, Machine]:
    return {f"{prefix}-{suffix}": Machine(f"{prefix}-{suffix}", vcpus, memory, gpu if count else None, count)
            for suffix, vcpus, memory, count in rows}


_T4 = frozenset({"nvidia-tesla-t4"})

MACHINES: dict[str, Machine] = {
    # G2: NVIDIA L4, bundled.
    **_family("g2-standard", [("4", 4, 16, 1), ("8", 8, 32, 1), ("12", 12, 48, 1), ("16", 16, 64, 1),
                              ("24", 24, 96, 2), ("32", 32, 128, 1), ("48", 48, 192, 4), ("96", 96, 384, 8)],
              "nvidia-l4"),
    # A2 standard: NVIDIA A100 40GB; A2 ultra: A100 80GB; bundled.
    **_family("a2-highgpu", [("1g", 12, 85, 1), ("2g", 24, 170, 2), ("4g", 48, 340, 4), ("8g", 96, 680, 8)],
              "nvidia-tesla-a100"),
    **_family("a2-megagpu", [("16g", 96, 1360, 16)], "nvidia-tesla-a100"),
    **_family("a2-ultragpu", [("1g", 12, 170, 1), ("2g", 24, 340, 2), ("4g", 48, 680, 4), ("8g", 96, 1360, 8)],
              "nvidia-a100-80gb"),
    # A3 High: NVIDIA H100 80GB, bundled.
    **_family("a3-highgpu", [("1g", 26, 234, 1), ("2g", 52, 468, 2), ("4g", 104, 936, 4), ("8g", 208, 1872, 8)],
              "nvidia-h100-80gb"),
    # N1: no GPU of its own; T4s can be attached, 1, 2 or 4 of them.
    **{name: Machine(name, vcpus, memory, attachable=_T4, attachable_counts=(1, 2, 4))
       for name, vcpus, memory in [("n1-standard-4", 4, 15), ("n1-standard-8", 8, 30),
                                   ("n1-standard-16", 16, 60), ("n1-standard-32", 32, 120)]},
    # N2: CPU only.
    **_family("n2-standard", [("4", 4, 16, 0), ("8", 8, 32, 0), ("16", 16, 64, 0), ("32", 32, 128, 0)], None),
}

# Among offbatch's allowed regions, those where each GPU is offered (GPU locations page).
GPU_REGIONS: dict[str, frozenset[str]] = {
    "nvidia-l4": frozenset({"europe-west1", "europe-west4", "us-central1", "us-east1", "us-east4"}),
    "nvidia-tesla-t4": frozenset({"europe-west1", "europe-west4", "us-central1", "us-east1", "us-east4"}),
    "nvidia-tesla-a100": frozenset({"europe-west4", "us-central1", "us-east1"}),
    "nvidia-a100-80gb": frozenset({"europe-west4", "us-central1", "us-east4"}),
    "nvidia-h100-80gb": frozenset({"europe-west4", "us-central1", "us-east4"}),
}


def problems(*, machine_type: str, region: str, accelerator_type: str | None, accelerator_count: int,
             cpu_milli: int, memory_mib: int) -> list[str]:
    """What Google would refuse in this machine request, one sentence each (empty: acceptable).

    ``cpu_milli``/``memory_mib`` are one task's; they must fit in one VM of the machine type.
    """
    machine = MACHINES.get(machine_type)
    if machine is None:
        known = ", ".join(sorted(MACHINES))
        return [f"machine_type {machine_type!r} is not in offbatch's machine table (known: {known})"]
    found = []
    if machine.gpu:
        if accelerator_type != machine.gpu or accelerator_count != machine.gpu_count:
            got = f"{accelerator_count} x {accelerator_type}" if accelerator_type else "no accelerator"
            found.append(f"machine_type {machine_type!r} carries exactly {machine.gpu_count} x {machine.gpu}; "
                         f"the request asks for {got}")
    elif accelerator_type:
        if accelerator_type not in machine.attachable:
            found.append(f"accelerator {accelerator_type!r} cannot be attached to machine_type {machine_type!r}"
                         + (f" (attachable: {', '.join(sorted(machine.attachable))})" if machine.attachable
                            else " (a CPU-only machine type)"))
        elif accelerator_count not in machine.attachable_counts:
            found.append(f"{accelerator_count} x {accelerator_type} cannot be attached to {machine_type!r}; "
                         f"allowed counts: {', '.join(map(str, machine.attachable_counts))}")
    gpu = machine.gpu or accelerator_type
    if gpu and region not in GPU_REGIONS.get(gpu, frozenset()):
        where = ", ".join(sorted(GPU_REGIONS.get(gpu, ()))) or "none of offbatch's regions"
        found.append(f"{gpu} is not offered in {region} (offered in: {where})")
    if cpu_milli > machine.cpu_milli:
        found.append(f"cpu_milli {cpu_milli} exceeds the {machine.vcpus} vCPUs ({machine.cpu_milli}) "
                     f"of {machine_type!r}")
    if memory_mib > machine.memory_mib:
        found.append(f"memory_mib {memory_mib} exceeds the {machine.memory_gib:g} GiB ({machine.memory_mib} MiB) "
                     f"of {machine_type!r}")
    return found
