"""What Google Batch refuses at CreateJob (INVALID_ARGUMENT), checked by the fake Batch service.

Each rule is one function of the request returning the reasons it refuses, so a test can break
one rule at a time. Sources: the google-cloud-batch v1 types' docstrings (one lifecycle policy,
``max_retry_count`` 0-10, ``allowed_locations`` as ``regions/R`` or ``zones/Z``), Google's
labels rules (Resource Manager), Batch's quotas and limits page (100,000 tasks per task group,
5,000 parallel tasks per job, a 1 MB job definition), and offbatch's machine table
(``offbatch.machines``: machine types, their GPUs, regions, vCPUs and memory) shared with config
validation. A GPU without ``install_gpu_drivers`` runs on Batch's images with no driver: the job
starts and every task fails, so the fake refuses it as offbatch must never send it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from google.cloud import batch_v1

from offbatch import machines

MAX_TASKS_PER_GROUP = 100_000
MAX_PARALLEL_TASKS = 5_000
MAX_JOB_BYTES = 1_000_000
MAX_RETRY_COUNT = 10
MAX_LABELS = 64
# Batch's defaults when a task asks for no resources (ComputeResource docstring).
DEFAULT_CPU_MILLI = 2000
DEFAULT_MEMORY_MIB = 2000

LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
ZONE = re.compile(r"^([a-z]+-[a-z]+[0-9]+)-[a-z]$")
DRIVER_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")

Rule = Callable[[batch_v1.CreateJobRequest], list[str]]


def _region(request: batch_v1.CreateJobRequest) -> str:
    return request.parent.rsplit("/locations/", 1)[-1]


def allowed_locations(request: batch_v1.CreateJobRequest) -> list[str]:
    region = _region(request)
    found = []
    for location in request.job.allocation_policy.location.allowed_locations:
        kind, _, name = location.partition("/")
        zone = ZONE.match(name) if kind == "zones" else None
        if kind == "regions" and REGION.match(name):
            where = name
        elif zone:
            where = zone.group(1)
        else:
            found.append(f"allowed_locations: {location!r} is not 'regions/REGION' or 'zones/ZONE'")
            continue
        if where != region:
            found.append(f"allowed_locations: {location!r} is outside the job's region {region!r}")
    return found


def labels(request: batch_v1.CreateJobRequest) -> list[str]:
    found = []
    for where, values in (("labels", request.job.labels), ("allocation_policy.labels",
                                                           request.job.allocation_policy.labels)):
        if len(values) > MAX_LABELS:
            found.append(f"{where}: {len(values)} labels, at most {MAX_LABELS}")
        for key, value in values.items():
            if not LABEL_KEY.match(key) or key.startswith("goog"):
                found.append(f"{where}: invalid label key {key!r}")
            if not LABEL_VALUE.match(value):
                found.append(f"{where}: invalid value {value!r} of label {key!r}")
    return found


def task_spec(request: batch_v1.CreateJobRequest) -> list[str]:
    found = []
    for group in request.job.task_groups:
        spec = group.task_spec
        if not 0 <= spec.max_retry_count <= MAX_RETRY_COUNT:
            found.append(f"max_retry_count {spec.max_retry_count} is outside 0-{MAX_RETRY_COUNT}")
        if len(spec.lifecycle_policies) > 1:
            found.append(f"{len(spec.lifecycle_policies)} lifecycle policies; Batch supports one")
        for runnable in spec.runnables:
            kinds = [k for k in ("container", "script", "barrier") if k in runnable]
            if len(kinds) != 1:
                found.append(f"a runnable needs exactly one of container, script, barrier (got {kinds or 'none'})")
            if "container" in runnable and not runnable.container.image_uri:
                found.append("a container runnable has an empty image_uri")
    return found


def task_counts(request: batch_v1.CreateJobRequest) -> list[str]:
    found = []
    for group in request.job.task_groups:
        if group.task_count > MAX_TASKS_PER_GROUP:
            found.append(f"task_count {group.task_count} exceeds {MAX_TASKS_PER_GROUP:,} tasks per task group")
        if group.parallelism > MAX_PARALLEL_TASKS:
            found.append(f"parallelism {group.parallelism} exceeds {MAX_PARALLEL_TASKS:,} parallel tasks per job")
    return found


def instances(request: batch_v1.CreateJobRequest) -> list[str]:
    """Machine type, GPUs, drivers, and one task's resources against the machine table."""
    found = []
    region = _region(request)
    resources = request.job.task_groups[0].task_spec.compute_resource if request.job.task_groups else None
    for instance in request.job.allocation_policy.instances:
        policy = instance.policy
        accelerators = list(policy.accelerators)
        if accelerators and not instance.install_gpu_drivers:
            found.append("accelerators without install_gpu_drivers: Batch's images have no GPU driver")
        for accelerator in accelerators:
            version = getattr(accelerator, "driver_version", "")
            if version and not DRIVER_VERSION.match(version):
                found.append(f"accelerator driver_version {version!r} is not a version like '580' or '580.65.06'")
        if len(accelerators) > 1:
            found.append(f"{len(accelerators)} accelerator entries; a VM has one GPU type")
        if not policy.machine_type:
            continue  # Batch picks a machine type that fits the task
        accelerator = accelerators[0] if accelerators else None
        found.extend(machines.problems(
            machine_type=policy.machine_type, region=region,
            accelerator_type=accelerator.type_ if accelerator else None,
            accelerator_count=accelerator.count if accelerator else 0,
            cpu_milli=(resources.cpu_milli if resources else 0) or DEFAULT_CPU_MILLI,
            memory_mib=(resources.memory_mib if resources else 0) or DEFAULT_MEMORY_MIB,
        ))
    return found


def size(request: batch_v1.CreateJobRequest) -> list[str]:
    n = len(batch_v1.Job.serialize(request.job))
    return [f"the job definition is {n:,} bytes, more than {MAX_JOB_BYTES:,}"] if n > MAX_JOB_BYTES else []


RULES: tuple[Rule, ...] = (allowed_locations, labels, task_spec, task_counts, instances, size)


def refusals(request: batch_v1.CreateJobRequest) -> list[str]:
    """Every reason Google would refuse ``request`` (empty: accepted)."""
    return [reason for rule in RULES for reason in rule(request)]
